package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// timeout bounds creating and dropping a schema.
const timeout = 30 * time.Second

// URL returns TEST_DATABASE_URL with its search_path set to a new, empty
// schema of a random name, which is dropped, with everything in it, when the
// test ends. A store opened on the URL creates its tables, goose's version
// table included, in that schema.
//
// URL skips the test when TEST_DATABASE_URL is not set, or fails it if
// APPROVALD_REQUIRE_POSTGRES=1; it fails the test when the schema cannot be
// created.
func URL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		if os.Getenv("APPROVALD_REQUIRE_POSTGRES") == "1" {
			t.Fatal("TEST_DATABASE_URL is not set but APPROVALD_REQUIRE_POSTGRES=1")
		}
		t.Skip("PostgreSQL tests skipped: set TEST_DATABASE_URL, e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
	}
	schema := newSchemaName(t)
	u, err := withSearchPath(base, schema)
	if err != nil {
		t.Fatalf("pgtest: TEST_DATABASE_URL: %v", err)
	}
	if err := exec(base, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatalf("pgtest: creating schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		if err := exec(base, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("pgtest: dropping schema %s: %v", schema, err)
		}
	})
	return u
}

// newSchemaName returns t_ and 16 random hex digits.
func newSchemaName(t testing.TB) string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return "t_" + hex.EncodeToString(b[:])
}

// withSearchPath returns the connection string base with the runtime
// parameter search_path set to schema, replacing any search_path in base.
// base is a URL or a keyword/value string, as pgx takes them.
func withSearchPath(base, schema string) (string, error) {
	if !strings.HasPrefix(base, "postgres://") && !strings.HasPrefix(base, "postgresql://") {
		return base + " search_path=" + schema, nil // a later keyword overrides an earlier one
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// exec runs one statement on a connection of its own to the database at
// connString. It does not use the test's context, which is done by the time
// cleanups run.
func exec(connString, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}
