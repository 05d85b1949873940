package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/pressly/goose/v3"
)

// ErrSchemaNewer is the cause of Migrate's error when the database's schema
// is newer than the migrations it was given know: a binary older than the
// one that migrated the database.
var ErrSchemaNewer = errors.New("the database's schema is newer than this approvald")

// LatestVersion returns the highest version of the migrations in the folder
// migrations of fsys (goose's numbered files): the schema version they
// bring, 0 for none.
func LatestVersion(fsys fs.FS) int64 {
	names, _ := fs.Glob(fsys, "migrations/*.sql")
	var latest int64
	for _, n := range names {
		digits, _, _ := strings.Cut(path.Base(n), "_")
		if v, err := strconv.ParseInt(digits, 10, 64); err == nil && v > latest {
			latest = v
		}
	}
	return latest
}

// DatabaseVersion returns the schema version of db: the highest version
// goose has recorded in its version table, 0 when none is. Goose creates
// its (empty) version table if db lacks it.
func DatabaseVersion(ctx context.Context, db *sql.DB, dialect goose.Dialect, fsys fs.FS) (int64, error) {
	p, err := Migrator(db, dialect, fsys)
	if err != nil {
		return 0, err
	}
	current, _, err := p.GetVersions(ctx)
	return current, err
}

// checkNotNewer returns an ErrSchemaNewer error naming both versions when
// the database's schema, current, is newer than the latest one known.
func checkNotNewer(current, latest int64) error {
	if current <= latest {
		return nil
	}
	return fmt.Errorf("%w: the database is at schema version %d, this approvald knows versions up to %d; "+
		"run an approvald at least as new as the one that migrated the database (or restore a backup taken before that upgrade)",
		ErrSchemaNewer, current, latest)
}
