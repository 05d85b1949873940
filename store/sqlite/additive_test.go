package sqlite

import (
	"testing"

	"approvald/store/storetest"
)

// TestMigrationsAdditive checks that every migration only adds to the
// schema (see storetest.Additive). The exception predates the check.
func TestMigrationsAdditive(t *testing.T) {
	t.Parallel()
	storetest.Additive(t, migrations, map[string]string{
		// SQLite cannot drop a column's UNIQUE constraint, so the table is
		// rebuilt: created as api_keys_v6, filled from api_keys, which is
		// dropped, and renamed. Every column of version 5 is kept, with its
		// rows, so the previous release still runs on it; it is only
		// destructive in form. (SQLite runs one process: no rollout shares it.)
		"00006_api_keys.sql": "table rebuild to drop UNIQUE(hash); columns and rows kept",
	})
}
