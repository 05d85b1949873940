package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/pressly/goose/v3"

	"approvald/store/sqlstore"
)

// SchemaVersion returns the schema version this package's migrations bring:
// the highest of them.
func SchemaVersion() int64 { return sqlstore.LatestVersion(migrations) }

// DatabaseVersion returns the schema version of the database file at path,
// 0 for one not migrated yet, without migrating it. It returns an error
// wrapping fs.ErrNotExist when there is no such file.
func DatabaseVersion(ctx context.Context, path string) (int64, error) {
	if _, err := os.Stat(path); err != nil {
		return 0, internal("schema version", err)
	}
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return 0, internal("schema version", err)
	}
	defer db.Close()
	v, err := sqlstore.DatabaseVersion(ctx, db, goose.DialectSQLite3, migrations)
	if err != nil {
		return 0, internal("schema version", err)
	}
	return v, nil
}

// Backup writes a consistent copy of the database file at path to the new
// file to, with VACUUM INTO: a snapshot of one read transaction, taken while
// servers go on reading and writing the database (in WAL mode, readers do
// not block the writer, nor it them). The copy is compact and, opened with
// Open, a database like the original at that moment. Backup refuses an
// existing file to and a missing path, and removes what it wrote when it
// fails.
func Backup(ctx context.Context, path, to string) error {
	if _, err := os.Stat(path); err != nil {
		return internal("backup", err)
	}
	if _, err := os.Lstat(to); err == nil {
		return internal("backup", fmt.Errorf("%s: %w", to, fs.ErrExist))
	} else if !errors.Is(err, fs.ErrNotExist) {
		return internal("backup", err)
	}
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return internal("backup", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", to); err != nil {
		os.Remove(to)
		return internal("backup", err)
	}
	return nil
}
