package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"approvald/store/sqlstore"
)

// SchemaVersion returns the schema version this package's migrations bring:
// the highest of them.
func SchemaVersion() int64 { return sqlstore.LatestVersion(migrations) }

// DatabaseVersion returns the schema version of the database at url (as
// Open takes it) in the first schema of its search_path, 0 for one not
// migrated yet, without migrating it (goose creates its empty version
// table if the schema lacks it). Its errors repeat no secret of url.
func DatabaseVersion(ctx context.Context, url string) (_ int64, err error) {
	defer func() {
		if err != nil {
			err = scrubOpenError(url, err)
		}
	}()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return 0, internal("schema version", parseError(url, err))
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	v, err := sqlstore.DatabaseVersion(ctx, db, goose.DialectPostgres, migrations)
	if err != nil {
		return 0, internal("schema version", err)
	}
	return v, nil
}
