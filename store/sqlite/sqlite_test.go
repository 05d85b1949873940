package sqlite

import (
	"database/sql"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/pressly/goose/v3"

	"approvald/approval"
	"approvald/store/sqlstore"
	"approvald/store/storetest"
)

// open returns a new store on a fresh file, closed when the test ends.
func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store {
		return open(t, filepath.Join(t.TempDir(), "approvald.db"))
	}, func(t *testing.T, s storetest.Store, statement string) {
		if _, err := s.(*Store).writer.ExecContext(t.Context(), statement); err != nil {
			t.Fatalf("%s: %v", statement, err)
		}
	})
}

func TestOpen_ReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "approvald.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	id, _ := uuid.NewV7()
	now := time.Date(2025, 1, 2, 3, 4, 5, 678901000, time.UTC)
	p := approval.Principal{ID: "user:alice", Scopes: []approval.Scope{approval.ScopeCreate}}
	r, ch, err := approval.New(id.String(), approval.Draft{Title: "Keep me"}, p, approval.Mandate{Policy: approval.DefaultPolicy(), Source: "default"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateApproval(t.Context(), r, ch, nil); err != nil {
		t.Fatalf("CreateApproval: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = open(t, path) // migrations run again and must find nothing to do
	got, err := s.GetApproval(t.Context(), r.ID)
	if err != nil {
		t.Fatalf("GetApproval after reopening: %v", err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Errorf("after reopening got %+v, want %+v", got, r)
	}
	var versions int
	if err := s.reader.QueryRowContext(t.Context(), "SELECT count(*) FROM goose_db_version WHERE version_id > 0").Scan(&versions); err != nil {
		t.Fatal(err)
	}
	if want := embeddedMigrations(t); versions != want {
		t.Errorf("goose recorded %d applied migrations, want %d", versions, want)
	}
}

func TestOpen_Pragmas(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "approvald.db"))
	tests := []struct {
		name   string
		db     *sql.DB
		pragma string
		want   string
	}{
		{"writer", s.writer, "journal_mode", "wal"},
		{"reader", s.reader, "journal_mode", "wal"},
		{"writer", s.writer, "foreign_keys", "1"},
		{"writer", s.writer, "busy_timeout", "10000"},
		{"reader", s.reader, "busy_timeout", "10000"},
		{"writer", s.writer, "synchronous", "1"}, // NORMAL
		{"reader", s.reader, "query_only", "1"},
	}
	for _, tc := range tests {
		var got string
		if err := tc.db.QueryRowContext(t.Context(), "PRAGMA "+tc.pragma).Scan(&got); err != nil {
			t.Fatalf("%s: PRAGMA %s: %v", tc.name, tc.pragma, err)
		}
		if !strings.EqualFold(got, tc.want) {
			t.Errorf("%s: PRAGMA %s = %s, want %s", tc.name, tc.pragma, got, tc.want)
		}
	}
}

func TestOpen_OneWriterConnection(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "approvald.db"))
	if n := s.writer.Stats().MaxOpenConnections; n != 1 {
		t.Errorf("the writer may open %d connections, want 1", n)
	}
}

func TestReader_CannotWrite(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "approvald.db"))
	_, err := s.reader.ExecContext(t.Context(), "DELETE FROM approvals")
	if err == nil {
		t.Error("a write through the reader pool succeeded")
	}
}

func TestOverdue_UsesPartialIndex(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "approvald.db"))
	if got := explain(t, s.reader, overdueQuery, 0, 1); !strings.Contains(got, "COVERING INDEX approvals_overdue_open") || strings.Contains(got, "TEMP B-TREE") {
		t.Errorf("the overdue query does not read just approvals_overdue_open, in order; plan:\n%s", got)
	}
}

// explain returns the query plan of query with args on db.
func explain(t *testing.T, db *sql.DB, query string, args ...any) string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "\n")
}

func TestClose_Twice(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "approvald.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s.Ping(t.Context()); approval.KindOf(err) != approval.KindInternal {
		t.Errorf("Ping after Close = %v, want an internal error", err)
	}
}

func TestOpen_PathWithURICharacters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dir ?#%", "approvald.db")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	open(t, path)
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the database is not at %s: %v", path, err)
	}
}

func TestOpen_MissingDirectoryFails(t *testing.T) {
	_, err := Open(t.Context(), filepath.Join(t.TempDir(), "missing", "approvald.db"))
	if approval.KindOf(err) != approval.KindInternal || err == nil {
		t.Errorf("Open in a missing directory = %v, want an internal error", err)
	}
}

// embeddedMigrations returns how many migrations the store embeds.
func embeddedMigrations(t *testing.T) int {
	t.Helper()
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("embedded migrations: %v, %v", files, err)
	}
	return len(files)
}

func TestClaims_UsePartialIndexes(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "approvald.db"))
	for name, q := range map[string]struct {
		query string
		args  []any
		index string
	}{
		"deliveries":  {claimDeliveriesQuery, []any{0, 0, "[]", 1}, "outbox_due"},
		"unpublished": {claimUnpublishedQuery, []any{0, 0, 1}, "outbox_unpublished"},
	} {
		if got := explain(t, s.writer, q.query, q.args...); !strings.Contains(got, "INDEX "+q.index) || strings.Contains(got, "TEMP B-TREE") {
			t.Errorf("claiming %s does not read %s in order; plan:\n%s", name, q.index, got)
		}
	}
}

func TestMigrations_DownAndUpAgain(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "approvald.db"))
	p, err := migrator(s.writer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(t.Context(), 0); err != nil {
		t.Fatalf("migrating down: %v", err)
	}
	if _, err := p.Up(t.Context()); err != nil {
		t.Fatalf("migrating up again: %v", err)
	}
	if err := s.CreateServiceRule(t.Context(), &approval.ServiceRule{Name: "r1", URL: "https://r1.example/"}); err != nil {
		t.Errorf("CreateServiceRule after migrating down and up: %v", err)
	}
}

// TestOpen_BackfillsIndex migrates a database with a pending request back
// to before the request index existed, as one made by an older version:
// opening it again writes the request's index rows, once.
func TestOpen_BackfillsIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "approvald.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	id, _ := uuid.NewV7()
	p := approval.Principal{ID: "user:alice", Scopes: []approval.Scope{approval.ScopeCreate}}
	r, ch, err := approval.New(id.String(), approval.Draft{Title: "Old"}, p, approval.Mandate{Policy: approval.DefaultPolicy(), Source: "default"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateApproval(t.Context(), r, ch, nil); err != nil {
		t.Fatalf("CreateApproval: %v", err)
	}
	m, err := migrator(s.writer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.DownTo(t.Context(), 4); err != nil {
		t.Fatalf("migrating down to 4: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = open(t, path)
	dave := approval.Principal{ID: "user:dave", Scopes: []approval.Scope{approval.ScopeReview}}
	got, err := s.Inbox(t.Context(), approval.InboxQuery{Principal: dave})
	if err != nil || len(got) != 1 || got[0].ID != r.ID {
		t.Errorf("Inbox after reopening = %v, %v; want the old request", got, err)
	}
	got, err = s.Inbox(t.Context(), approval.InboxQuery{Principal: p})
	if err != nil || len(got) != 0 {
		t.Errorf("the requester's inbox after reopening = %v, %v; want nothing", got, err)
	}
	var markers int
	if err := s.reader.QueryRowContext(t.Context(), "SELECT count(*) FROM meta").Scan(&markers); err != nil || markers != 0 {
		t.Errorf("meta has %d rows (%v) after the backfill, want none", markers, err)
	}
}

func TestInbox_ReadsIndexRanges(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "approvald.db"))
	query, args := inbox([]string{"*", "g:ops", "p:user:dave"}, "", "user:dave", 10)
	got := explain(t, s.reader, query, args...)
	for _, want := range []string{
		"SEARCH i USING PRIMARY KEY (key=? AND request_id>?)",
		"SEARCH x USING PRIMARY KEY (request_id=? AND principal=?)",
		"SEARCH approvals USING INDEX sqlite_autoindex_approvals_1 (id=?)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the inbox query does not %s; plan:\n%s", want, got)
		}
	}
	if strings.Contains(got, "SCAN i") || strings.Contains(got, "SCAN x") || strings.Contains(got, "SCAN approvals") {
		t.Errorf("the inbox query scans a table; plan:\n%s", got)
	}
}

func TestDueReminders_UsesPartialIndex(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "approvald.db"))
	if got := explain(t, s.reader, remindersQuery, 0, 1); !strings.Contains(got, "COVERING INDEX approvals_reminders") || strings.Contains(got, "TEMP B-TREE") {
		t.Errorf("the reminders query does not read just approvals_reminders, in order; plan:\n%s", got)
	}
}

// TestMigration6_APIKeyOriginsAndHashes migrates api keys of version 5 up:
// the admin keys become bootstrap keys, the others API keys. Migrating down
// again keeps one key of each hash.
func TestMigration6_APIKeyOriginsAndHashes(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "approvald.db"))
	m, err := migrator(s.writer)
	if err != nil {
		t.Fatal(err)
	}
	storetest.Migration6(t, s, m, func(admin, billing string) {
		if _, err := s.writer.ExecContext(t.Context(), `
			INSERT INTO api_keys (id, name, prefix, hash, scopes, groups, created_at, revoked_at)
			VALUES (?, 'admin', 'apd_adm', 'hash-admin', '["admin"]', '[]', 1, NULL),
			       (?, 'billing', 'apd_bil', 'hash-billing', '["approvals:read"]', '[]', 2, 3)`, admin, billing); err != nil {
			t.Fatal(err)
		}
	}, func() []string {
		var ids []string
		rows, err := s.writer.QueryContext(t.Context(), "SELECT id FROM api_keys WHERE hash = 'hash-billing'")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		return ids
	})
}

// migrator returns the goose provider of the embedded migrations on db.
func migrator(db *sql.DB) (*goose.Provider, error) {
	return sqlstore.Migrator(db, goose.DialectSQLite3, migrations)
}
