package auth

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadSecretFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("key", "  s3cret-value\n")
	write("big", strings.Repeat("x", maxSecretFileSize+1))
	if v, err := ReadSecretFile(dir, "key"); v != "s3cret-value" || err != nil {
		t.Errorf("key: %q, %v", v, err)
	}
	if v, err := ReadSecretFile(dir, "missing"); v != "" || err != nil {
		t.Errorf("missing: %q, %v", v, err)
	}
	if _, err := ReadSecretFile(dir, "big"); err == nil || strings.Contains(err.Error(), "xxxx") {
		t.Errorf("big: %v, want an error without the content", err)
	}
	if err := os.Mkdir(filepath.Join(dir, "dir"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSecretFile(dir, "dir"); err == nil {
		t.Error("a directory read as a secret")
	}
}
