package postgres

import (
	"testing"

	"approvald/store/storetest"
)

// TestMigrationsAdditive checks that every migration only adds to the
// schema, so that the previous release runs on a database this one
// migrated during a rolling upgrade. None is an exception: 00006 drops the
// unique constraint on api_keys.hash, which relaxes what the previous
// release relied on (it still writes unique hashes) and is not flagged.
func TestMigrationsAdditive(t *testing.T) {
	t.Parallel()
	storetest.Additive(t, migrations, nil)
}

// TestDestructive checks the statements the additive check finds.
func TestDestructive(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		up     string
		want   int
		marked bool
	}{
		{"CREATE TABLE x (a int NOT NULL);\nCREATE INDEX y ON x (a);", 0, false},
		{"ALTER TABLE x ADD COLUMN b text NOT NULL DEFAULT '', ADD COLUMN c int;", 0, false},
		{"ALTER TABLE x ADD COLUMN b text NOT NULL;", 1, false},
		{"ALTER TABLE x ADD COLUMN o text NOT NULL DEFAULT 'api' CHECK (o IN ('a', 'b')), ADD COLUMN p int NOT NULL;", 1, false},
		{"-- drop table in a comment is fine\nDROP INDEX y;", 0, false},
		{"DROP TABLE x;", 1, false},
		{"ALTER TABLE x DROP COLUMN a;", 1, false},
		{"ALTER TABLE x RENAME COLUMN a TO b;", 1, false},
		{"ALTER TABLE x ALTER COLUMN a TYPE bigint;", 1, false},
		{"ALTER TABLE x ALTER COLUMN a SET NOT NULL;", 1, false},
		{"-- destructive: contract of 00042, unused since release 1.7\nALTER TABLE x DROP COLUMN a;", 1, true},
	} {
		src := "-- +goose Up\n" + c.up + "\n-- +goose Down\nDROP TABLE x;\n"
		found, marked := storetest.Destructive(src)
		if len(found) != c.want || marked != c.marked {
			t.Errorf("%q: found %v, marked %v; want %d, %v", c.up, found, marked, c.want, c.marked)
		}
	}
}
