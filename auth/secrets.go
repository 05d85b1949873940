package auth

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// maxSecretFileSize bounds a secret file: a secret is short, and a large
// file is a mistake, not a secret.
const maxSecretFileSize = 64 << 10

// ReadSecretFile returns the content, whitespace-trimmed, of the secret
// file name in dir (SECRETS_MNT_PATH: one file per secret), or "" when
// there is no such file. It returns an error naming the file, never its
// content, when the file cannot be read or is over 64 KiB.
func ReadSecretFile(dir, name string) (string, error) {
	f, err := os.Open(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("SECRETS_MNT_PATH: reading secret %s: %w", name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFileSize+1))
	switch {
	case err != nil:
		return "", fmt.Errorf("SECRETS_MNT_PATH: reading secret %s: %w", name, err)
	case len(b) > maxSecretFileSize:
		return "", fmt.Errorf("SECRETS_MNT_PATH: secret %s is larger than %d bytes", name, maxSecretFileSize)
	}
	return strings.TrimSpace(string(b)), nil
}
