package sqlite

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestBackup_CopiesAMigratedDatabaseAndRefusesAnExistingFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "live.db")
	s := open(t, path) // stays open: the copy is taken online
	to := filepath.Join(dir, "copy.db")
	if err := Backup(ctx, path, to); err != nil {
		t.Fatal(err)
	}
	if v, err := DatabaseVersion(ctx, to); err != nil || v != SchemaVersion() {
		t.Fatalf("the copy's schema version: %d, %v; want %d", v, err, SchemaVersion())
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if err := Backup(ctx, path, to); !errors.Is(err, fs.ErrExist) {
		t.Errorf("a second backup to the same file: %v, want fs.ErrExist", err)
	}
	missing := filepath.Join(dir, "missing.db")
	if err := Backup(ctx, missing, filepath.Join(dir, "other.db")); err == nil {
		t.Error("backed up a missing database")
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Error("Backup created the missing database")
	}
	if _, err := DatabaseVersion(ctx, missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("DatabaseVersion of a missing file: %v", err)
	}
}
