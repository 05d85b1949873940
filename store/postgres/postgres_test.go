package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"approvald/approval"
	"approvald/store/postgres/pgtest"
	"approvald/store/sqlstore"
	"approvald/store/storetest"
)

// testMaxConns keeps the connections of the parallel tests well below the
// server's max_connections.
const testMaxConns = 4

// open returns a new store on url, closed when the test ends.
func open(t *testing.T, url string) *Store {
	t.Helper()
	s, err := Open(t.Context(), url, testMaxConns)
	if err != nil {
		t.Fatalf("Open: %v", err)
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
		return open(t, pgtest.URL(t))
	}, func(t *testing.T, s storetest.Store, statement string) {
		if _, err := s.(*Store).pool.Exec(t.Context(), statement); err != nil {
			t.Fatalf("%s: %v", statement, err)
		}
	})
}

// newRequest returns a new request by alice, not yet stored, with its change.
func newRequest(t *testing.T, title string) (*approval.Request, approval.Change) {
	t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	p := approval.Principal{ID: "user:alice", Scopes: []approval.Scope{approval.ScopeCreate}}
	now := time.Date(2025, 1, 2, 3, 4, 5, 678901000, time.UTC)
	r, ch, err := approval.New(id.String(), approval.Draft{Title: title}, p, approval.Mandate{Policy: approval.DefaultPolicy(), Source: "default"}, now)
	if err != nil {
		t.Fatal(err)
	}
	return r, ch
}

// create stores a new request and returns it.
func create(t *testing.T, s *Store, title string) *approval.Request {
	t.Helper()
	r, ch := newRequest(t, title)
	if _, err := s.CreateApproval(t.Context(), r.Clone(), ch, nil); err != nil {
		t.Fatalf("CreateApproval: %v", err)
	}
	return r
}

// appliedMigrations returns how many migrations goose recorded as applied in
// the store's schema.
func appliedMigrations(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	if err := s.pool.QueryRow(t.Context(), "SELECT count(*) FROM goose_db_version WHERE version_id > 0").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestOpen_ConcurrentOpensMigrateOnce(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	const n = 4
	var (
		wg     sync.WaitGroup
		start  = make(chan struct{})
		stores [n]*Store
		errs   [n]error
	)
	for i := range n {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = Open(t.Context(), url, 2)
		})
	}
	close(start)
	wg.Wait()
	for i, s := range stores {
		if errs[i] != nil {
			t.Errorf("Open %d: %v", i, errs[i])
			continue
		}
		t.Cleanup(func() { s.Close() })
	}
	if t.Failed() {
		return
	}

	s := stores[0]
	if got, want := appliedMigrations(t, s), embeddedMigrations(t); got != want {
		t.Errorf("goose recorded %d applied migrations, want %d", got, want)
	}
	var schema string
	var versionTables int
	err := s.pool.QueryRow(t.Context(), `
		SELECT current_schema(), (SELECT count(*) FROM pg_tables WHERE tablename = 'goose_db_version')`,
	).Scan(&schema, &versionTables)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(schema, "t_") {
		t.Errorf("the store works in schema %q, not the test's", schema)
	}
	var inSchema bool
	err = s.pool.QueryRow(t.Context(),
		"SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = $1 AND tablename = 'goose_db_version')", schema,
	).Scan(&inSchema)
	if err != nil {
		t.Fatal(err)
	}
	if !inSchema {
		t.Errorf("goose's version table is not in the test's schema %s", schema)
	}
	// Every store works.
	for i, s := range stores {
		create(t, s, fmt.Sprintf("from store %d", i))
	}
	list, err := s.ListApprovals(t.Context(), approval.Filter{})
	if err != nil || len(list) != n {
		t.Errorf("ListApprovals = %d requests, %v; want %d", len(list), err, n)
	}
}

func TestOpen_ReopenKeepsData(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	s, err := Open(t.Context(), url, testMaxConns)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	r, ch := newRequest(t, "Keep me")
	if _, err := s.CreateApproval(t.Context(), r, ch, nil); err != nil {
		t.Fatalf("CreateApproval: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = open(t, url) // migrations run again and must find nothing to do
	got, err := s.GetApproval(t.Context(), r.ID)
	if err != nil {
		t.Fatalf("GetApproval after reopening: %v", err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Errorf("after reopening got %+v, want %+v", got, r)
	}
	if got, want := appliedMigrations(t, s), embeddedMigrations(t); got != want {
		t.Errorf("goose recorded %d applied migrations, want %d", got, want)
	}
}

func TestOpen_MaxConns(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	s := open(t, url)
	if got := s.pool.Config().MaxConns; got != testMaxConns {
		t.Errorf("MaxConns = %d, want %d", got, testMaxConns)
	}
	s, err := Open(t.Context(), url, 0)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if got := s.pool.Config().MaxConns; got < 1 {
		t.Errorf("MaxConns with pgx's default = %d", got)
	}
	if _, err := Open(t.Context(), url, -1); approval.KindOf(err) != approval.KindInternal {
		t.Errorf("Open with -1 connections = %v, want an internal error", err)
	}
}

func TestOpen_DescriptionCacheOnlyInCacheDescribeMode(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	if got := open(t, url).pool.Config().ConnConfig.DescriptionCacheCapacity; got != 0 {
		t.Errorf("DescriptionCacheCapacity in the default mode = %d, want 0", got)
	}
	// A URL that chooses the mode that uses the cache keeps it, and works.
	param := " default_query_exec_mode=cache_describe" // keyword/value form
	if strings.Contains(url, "://") {
		param = "?default_query_exec_mode=cache_describe"
		if strings.Contains(url, "?") {
			param = "&" + param[1:]
		}
	}
	s := open(t, url+param)
	if got := s.pool.Config().ConnConfig.DescriptionCacheCapacity; got == 0 {
		t.Error("DescriptionCacheCapacity in cache_describe mode = 0")
	}
	if _, err := s.ListApprovals(t.Context(), approval.Filter{Limit: 1}); err != nil {
		t.Errorf("ListApprovals in cache_describe mode: %v", err)
	}
}

func TestOpen_UnreachableFails(t *testing.T) {
	t.Parallel()
	pgtest.URL(t) // skips without a server, like the other tests
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := Open(ctx, "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2", 1)
	if approval.KindOf(err) != approval.KindUnavailable {
		t.Errorf("Open of a closed port = %v, want an unavailable error", err)
	}
	_, err = Open(ctx, "postgres://%zz", 1)
	if approval.KindOf(err) != approval.KindInternal {
		t.Errorf("Open of a bad URL = %v, want an internal error", err)
	}
}

func TestClose_Twice(t *testing.T) {
	t.Parallel()
	s, err := Open(t.Context(), pgtest.URL(t), testMaxConns)
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

func TestMalformedIDs_AreNotFound(t *testing.T) {
	t.Parallel()
	s := open(t, pgtest.URL(t))
	r := create(t, s, "Stored")
	for _, id := range []string{"not-a-uuid", "", strings.ToUpper(r.ID), "urn:uuid:" + r.ID, r.ID[:35]} {
		_, err := s.GetApproval(t.Context(), id)
		wantKind(t, "GetApproval("+id+")", err, approval.KindNotFound)
		_, err = s.UpdateApproval(t.Context(), id, func(*approval.Request) (approval.Change, error) {
			t.Errorf("UpdateApproval(%s) called fn", id)
			return approval.Change{}, nil
		})
		wantKind(t, "UpdateApproval("+id+")", err, approval.KindNotFound)
		_, err = s.History(t.Context(), id)
		wantKind(t, "History("+id+")", err, approval.KindNotFound)
		wantKind(t, "RevokeAPIKey("+id+")", s.RevokeAPIKey(t.Context(), id, time.Now()), approval.KindNotFound)
	}
}

func TestListApprovals_MalformedCursorIsInvalid(t *testing.T) {
	t.Parallel()
	s := open(t, pgtest.URL(t))
	create(t, s, "Stored")
	for _, before := range []string{"zzz", "not-a-uuid", "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"} {
		_, err := s.ListApprovals(t.Context(), approval.Filter{Before: before})
		if approval.KindOf(err) != approval.KindInvalid || approval.CodeOf(err) != approval.CodeValidation {
			t.Errorf("ListApprovals(before %q) = %v, want the invalid-cursor error", before, err)
		}
	}
}

func TestCreateApproval_NonCanonicalIDFails(t *testing.T) {
	t.Parallel()
	s := open(t, pgtest.URL(t))
	r, ch := newRequest(t, "Shouting")
	r.ID = strings.ToUpper(r.ID)
	if _, err := s.CreateApproval(t.Context(), r, ch, nil); approval.KindOf(err) != approval.KindInternal {
		t.Errorf("CreateApproval with an upper-case id = %v, want an internal error", err)
	}
}

// PostgreSQL text cannot hold NUL; that is the input's fault, not the
// database's. The domain lets NUL through in a description.
func TestCreateApproval_NULInTextIsInvalid(t *testing.T) {
	t.Parallel()
	s := open(t, pgtest.URL(t))
	r, ch := newRequest(t, "Has NUL")
	r.Description = "a\x00b"
	_, err := s.CreateApproval(t.Context(), r, ch, nil)
	if approval.KindOf(err) != approval.KindInvalid {
		t.Errorf("CreateApproval with NUL in the description = %v, want an invalid-input error", err)
	}
	_, err = s.GetApproval(t.Context(), r.ID)
	wantKind(t, "GetApproval", err, approval.KindNotFound)
}

// TestWrite_RetriesDeadlock makes two write transactions lock two requests
// in opposite orders. PostgreSQL aborts one of them with a deadlock; write
// runs it again and both succeed.
func TestWrite_RetriesDeadlock(t *testing.T) {
	t.Parallel()
	s := open(t, pgtest.URL(t))
	a, b := create(t, s, "A"), create(t, s, "B")

	var (
		both     sync.WaitGroup // each transaction holds its first lock
		wg       sync.WaitGroup
		attempts [2]atomic.Int32
		errs     [2]error
	)
	both.Add(2)
	lock := func(tx pgx.Tx, id string) error {
		_, err := tx.Exec(t.Context(), "SELECT 1 FROM approvals WHERE id = $1 FOR UPDATE", id)
		return err
	}
	for i, order := range [2][2]string{{a.ID, b.ID}, {b.ID, a.ID}} {
		wg.Go(func() {
			errs[i] = s.write(t.Context(), "deadlock test", func(tx pgx.Tx) error {
				first := attempts[i].Add(1) == 1
				if err := lock(tx, order[0]); err != nil {
					return internal("lock", err)
				}
				if first {
					both.Done()
					both.Wait()
				}
				if err := lock(tx, order[1]); err != nil {
					return internal("lock", err)
				}
				return nil
			})
		})
	}
	wg.Wait()
	for i := range 2 {
		if errs[i] != nil {
			t.Errorf("transaction %d: %v", i, errs[i])
		}
	}
	// Usually 3. On a loaded machine the victim's retry can lock its first
	// row before the survivor, woken by the victim's abort, takes it: the
	// row is free, and waking gives no priority. Then they deadlock again.
	if n := attempts[0].Load() + attempts[1].Load(); n < 3 {
		t.Errorf("the transactions ran %d times in all, want at least 3: one of them again after the deadlock", n)
	}
}

func TestRetry(t *testing.T) {
	pgError := func(code string) error {
		return internal("test", &pgconn.PgError{Code: code, Message: "injected"})
	}
	errBoom := errors.New("boom")
	tests := []struct {
		name      string
		errs      []error // attempt n returns errs[n], nil after the last
		wantCalls int
		wantErr   error // matched with errors.Is; nil for success
	}{
		{"success", nil, 1, nil},
		{"serialization failure, then success", []error{pgError(codeSerializationFailure)}, 2, nil},
		{"deadlock twice, then success", []error{pgError(codeDeadlockDetected), pgError(codeDeadlockDetected)}, 3, nil},
		{"other error", []error{errBoom}, 1, errBoom},
		{"unique violation", []error{pgError(codeUniqueViolation)}, 1, &pgconn.PgError{}},
		{"serialization failures throughout", []error{
			pgError(codeSerializationFailure), pgError(codeSerializationFailure), pgError(codeSerializationFailure),
			pgError(codeSerializationFailure), pgError(codeSerializationFailure), pgError(codeSerializationFailure),
			pgError(codeSerializationFailure),
		}, 1 + maxRetries, &pgconn.PgError{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			calls := 0
			err := retry(t.Context(), "test", func() error {
				calls++
				if calls <= len(tc.errs) {
					return tc.errs[calls-1]
				}
				return nil
			})
			if calls != tc.wantCalls {
				t.Errorf("attempt called %d times, want %d", calls, tc.wantCalls)
			}
			switch want := tc.wantErr.(type) {
			case nil:
				if err != nil {
					t.Errorf("retry = %v, want success", err)
				}
			case *pgconn.PgError:
				var pgErr *pgconn.PgError
				if !errors.As(err, &pgErr) || approval.KindOf(err) != approval.KindInternal {
					t.Errorf("retry = %v, want the internal error wrapping the last PgError", err)
				}
			default:
				if !errors.Is(err, want) {
					t.Errorf("retry = %v, want %v", err, want)
				}
			}
		})
	}
}

func TestRetry_CancelledDuringBackoff(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	calls := 0
	err := retry(ctx, "test", func() error {
		calls++
		cancel()
		return internal("test", &pgconn.PgError{Code: codeSerializationFailure})
	})
	if calls != 1 || !errors.Is(err, context.Canceled) || approval.KindOf(err) != approval.KindInternal {
		t.Errorf("retry with a context cancelled during the backoff = %v after %d calls, want context.Canceled after 1", err, calls)
	}
}

func TestOverdue_UsesPartialIndex(t *testing.T) {
	t.Parallel()
	s := open(t, pgtest.URL(t))
	if got := explain(t, s, overdueQuery, time.Now(), 10); !strings.Contains(got, "Index Only Scan using approvals_overdue_open") || strings.Contains(got, "Sort") {
		t.Errorf("the overdue query does not read just approvals_overdue_open, in order; plan:\n%s", got)
	}
}

// explain returns the plan of query with args as PostgreSQL would run it if
// it had to use an index it could. The tables of a test are small, so the
// planner would rather scan; the tests ask whether an index can serve a
// query at all.
func explain(t *testing.T, s *Store, query string, args ...any) string {
	t.Helper()
	return explainWith(t, s, []string{"enable_seqscan"}, query, args...)
}

// explainWith returns the plan of query with args as PostgreSQL would run
// it with the plan types off turned off.
func explainWith(t *testing.T, s *Store, off []string, query string, args ...any) string {
	t.Helper()
	tx, err := s.pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(t.Context())
	for _, setting := range off {
		if _, err := tx.Exec(t.Context(), "SET LOCAL "+setting+" = off"); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := tx.Query(t.Context(), "EXPLAIN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "\n")
}

func TestTimes_ReadBackInUTC(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	// A session time zone other than UTC changes nothing.
	sep := "&"
	if !strings.Contains(url, "://") {
		sep = " " // a keyword/value string
	}
	s := open(t, url+sep+"timezone=Asia/Kathmandu")
	r := create(t, s, "Zoned")
	got, err := s.GetApproval(t.Context(), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.CreatedAt.Location() != time.UTC || !got.CreatedAt.Equal(r.CreatedAt) {
		t.Errorf("created at %v, want %v in UTC", got.CreatedAt, r.CreatedAt)
	}
}

// holdInTx begins a transaction on its own connection, runs stmt in it and
// returns the transaction with the backend's process id.
func holdInTx(t *testing.T, s *Store, stmt string, args ...any) (pgx.Tx, uint32) {
	t.Helper()
	tx, err := s.pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback(context.Background()) })
	if _, err := tx.Exec(t.Context(), stmt, args...); err != nil {
		t.Fatal(err)
	}
	return tx, tx.Conn().PgConn().PID()
}

// waitBlockedBy waits until a backend waits for a lock that backend pid holds.
func waitBlockedBy(t *testing.T, s *Store, pid uint32) {
	t.Helper()
	for range 500 {
		var blocked bool
		err := s.pool.QueryRow(t.Context(),
			"SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE $1::int = ANY (pg_blocking_pids(pid)))", pid,
		).Scan(&blocked)
		if err != nil {
			t.Fatal(err)
		}
		if blocked {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("nothing waits for backend %d", pid)
}

// TestCreateAPIKey_NameTakenConcurrentlyIsConflict creates a key while
// another transaction has inserted a live key of the same name and not yet
// committed: the check finds nothing, the insert waits, and when the other
// transaction commits the unique index makes it a conflict.
func TestCreateAPIKey_NameTakenConcurrentlyIsConflict(t *testing.T) {
	t.Parallel()
	s := open(t, pgtest.URL(t))
	tx, pid := holdInTx(t, s, `
		INSERT INTO api_keys (id, name, prefix, hash, scopes, groups, created_at)
		VALUES ($1, 'billing', 'apd_one', 'hash-1', '[]', '[]', now())`, uuid.NewString())

	errc := make(chan error, 1)
	go func() {
		errc <- s.CreateAPIKey(t.Context(), approval.APIKey{
			ID: uuid.NewString(), Name: "billing", Prefix: "apd_two", Hash: "hash-2", CreatedAt: time.Now(),
		})
	}()
	waitBlockedBy(t, s, pid)
	if err := tx.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	err := <-errc
	if approval.KindOf(err) != approval.KindConflict {
		t.Errorf("CreateAPIKey = %v, want a conflict", err)
	}
}

// TestCreateApproval_WaitsForConcurrentIdempotencyKey creates a request
// under a key that another, open transaction has just claimed: the create
// waits for it, then returns its record if it commits, or stores its own
// request if it rolls back.
func TestCreateApproval_WaitsForConcurrentIdempotencyKey(t *testing.T) {
	for _, commit := range []bool{true, false} {
		t.Run(fmt.Sprintf("commit=%v", commit), func(t *testing.T) {
			t.Parallel()
			s := open(t, pgtest.URL(t))
			other := uuid.NewString()
			tx, pid := holdInTx(t, s, `
				INSERT INTO idempotency_keys (principal, key, body_hash, request_id, response, created_at)
				VALUES ('user:alice', 'k', 'sha256:other', $1, '\x7b7d', now())`, other)

			r, ch := newRequest(t, "Mine")
			type result struct {
				found *approval.Idempotency
				err   error
			}
			done := make(chan result, 1)
			go func() {
				found, err := s.CreateApproval(t.Context(), r, ch, &approval.Idempotency{
					Principal: "user:alice", Key: "k", BodyHash: "sha256:mine", RequestID: r.ID,
					Response: []byte("{}"), CreatedAt: r.CreatedAt,
				})
				done <- result{found, err}
			}()
			waitBlockedBy(t, s, pid)
			end := tx.Rollback
			if commit {
				end = tx.Commit
			}
			if err := end(t.Context()); err != nil {
				t.Fatal(err)
			}
			res := <-done
			_, getErr := s.GetApproval(t.Context(), r.ID)
			switch {
			case res.err != nil:
				t.Fatalf("CreateApproval: %v", res.err)
			case commit && (res.found == nil || res.found.RequestID != other || string(res.found.Response) != "{}"):
				t.Errorf("CreateApproval returned %+v, want the other transaction's record", res.found)
			case commit && approval.KindOf(getErr) != approval.KindNotFound:
				t.Errorf("the request was stored although its key was taken: GetApproval = %v", getErr)
			case !commit && (res.found != nil || getErr != nil):
				t.Errorf("CreateApproval = %+v and GetApproval = %v, want the request stored", res.found, getErr)
			}
		})
	}
}

// TestUpdateApproval_DuplicateSeqIsConflict stores a history entry twice,
// which the row lock of UpdateApproval rules out: the unique constraint
// makes the second a conflict, not an internal error.
func TestUpdateApproval_DuplicateSeqIsConflict(t *testing.T) {
	t.Parallel()
	s := open(t, pgtest.URL(t))
	r, ch := newRequest(t, "Twice")
	if _, err := s.CreateApproval(t.Context(), r, ch, nil); err != nil {
		t.Fatal(err)
	}
	_, err := s.UpdateApproval(t.Context(), r.ID, func(*approval.Request) (approval.Change, error) { return ch, nil })
	if approval.KindOf(err) != approval.KindConflict {
		t.Errorf("inserting the creation change again = %v, want a conflict", err)
	}
	if h, err := s.History(t.Context(), r.ID); err != nil || len(h) != 1 {
		t.Errorf("History = %d entries, %v; want 1", len(h), err)
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

// wantKind fails the test unless err is an error of kind k.
func wantKind(t *testing.T, what string, err error, k approval.Kind) {
	t.Helper()
	if err == nil || approval.KindOf(err) != k {
		t.Errorf("%s: error %v, want kind %v", what, err, k)
	}
}

// waitChange waits for a value on s's Changes channel, failing the test if
// none comes within 10 seconds.
func waitChange(t *testing.T, s *Store, what string) {
	t.Helper()
	select {
	case <-s.Changes():
	case <-time.After(10 * time.Second):
		t.Fatalf("no wake-up %s", what)
	}
}

// drainChanges empties s's Changes channel.
func drainChanges(s *Store) {
	for len(s.changes) > 0 {
		<-s.changes
	}
}

func TestChanges_AnotherStoreOnTheSchemaWakes(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	writer, reader := open(t, url), open(t, url)
	drainChanges(reader)
	create(t, writer, "Seen elsewhere")
	waitChange(t, reader, "in a second store after the first created a request")

	// Changes outside change batches notify as well.
	drainChanges(reader)
	if err := writer.CreateServiceRule(t.Context(), &approval.ServiceRule{Name: "r1", URL: "https://r1.example/"}); err != nil {
		t.Fatal(err)
	}
	waitChange(t, reader, "in a second store after the first created a service rule")
}

// TestChanges_ListenerReconnects ends the listeners' connections: the
// listener connects again, says so with a wake-up, and wakes on changes as
// before.
func TestChanges_ListenerReconnects(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	writer, reader := open(t, url), open(t, url)
	drainChanges(reader)
	var ended int
	err := writer.pool.QueryRow(t.Context(), `
		SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE query = $1 AND pid <> pg_backend_pid()`,
		"LISTEN "+pgx.Identifier{reader.channel}.Sanitize(),
	).Scan(&ended)
	if err != nil {
		t.Fatal(err)
	}
	if ended != 2 {
		t.Fatalf("ended %d listening connections, want the two stores'", ended)
	}
	waitChange(t, reader, "after the listener connected again")
	create(t, writer, "After reconnecting")
	waitChange(t, reader, "in a second store after its listener connected again")
}

func TestChannelName(t *testing.T) {
	a, b := channelName("t_0123456789abcdef"), channelName("t_0123456789abcdee")
	switch {
	case a == b:
		t.Errorf("two schemas share the channel %s", a)
	case a != channelName("t_0123456789abcdef"):
		t.Errorf("the channel of one schema changes")
	case len(a) > 63 || pgx.Identifier{a}.Sanitize() != `"`+a+`"`:
		t.Errorf("channel %q is not a plain identifier of at most 63 characters", a)
	}
}

func TestClaimDeliveries_UsesPartialIndex(t *testing.T) {
	t.Parallel()
	s := open(t, pgtest.URL(t))
	got := explain(t, s, claimDeliveriesQuery, time.Now(), time.Now(), []string{}, 10)
	if !strings.Contains(got, "Index Scan using outbox_due") || strings.Contains(got, "Sort") {
		t.Errorf("the claim does not read outbox_due, in order; plan:\n%s", got)
	}
}

func TestMigrations_DownAndUpAgain(t *testing.T) {
	t.Parallel()
	s := open(t, pgtest.URL(t))
	db := stdlib.OpenDBFromPool(s.pool)
	defer db.Close()
	p, err := migrator(db)
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

// TestOpen_BackfillsIndex migrates a schema with a pending request back to
// before the request index existed, as one made by an older version:
// opening it again writes the request's index rows, once.
func TestOpen_BackfillsIndex(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	s, err := Open(t.Context(), url, testMaxConns)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	r := create(t, s, "Old")
	db := stdlib.OpenDBFromPool(s.pool)
	p, err := migrator(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(t.Context(), 4); err != nil {
		t.Fatalf("migrating down to 4: %v", err)
	}
	db.Close()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = open(t, url)
	dave := approval.Principal{ID: "user:dave", Scopes: []approval.Scope{approval.ScopeReview}}
	got, err := s.Inbox(t.Context(), approval.InboxQuery{Principal: dave})
	if err != nil || len(got) != 1 || got[0].ID != r.ID {
		t.Errorf("Inbox after reopening = %v, %v; want the old request", got, err)
	}
	var markers int
	if err := s.pool.QueryRow(t.Context(), "SELECT count(*) FROM meta").Scan(&markers); err != nil || markers != 0 {
		t.Errorf("meta has %d rows (%v) after the backfill, want none", markers, err)
	}
}

func TestInbox_MalformedCursorIsInvalid(t *testing.T) {
	t.Parallel()
	s := open(t, pgtest.URL(t))
	dave := approval.Principal{ID: "user:dave", Scopes: []approval.Scope{approval.ScopeReview}}
	for _, after := range []string{"zzz", "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"} {
		_, err := s.Inbox(t.Context(), approval.InboxQuery{Principal: dave, After: after})
		if approval.KindOf(err) != approval.KindInvalid {
			t.Errorf("Inbox(after %q) = %v, want the invalid-cursor error", after, err)
		}
	}
}

func TestInbox_UsesIndexes(t *testing.T) {
	t.Parallel()
	s := open(t, pgtest.URL(t))
	// With a few rows the planner would rather use a bitmap; with many (a
	// million, say) it reads the primary key of approval_inbox by itself.
	got := explainWith(t, s, []string{"enable_seqscan", "enable_bitmapscan"},
		inboxQuery, []string{"*", "g:ops", "p:user:dave"}, uuid.Nil.String(), "user:dave", 10)
	for _, want := range []string{
		"Index Only Scan using approval_inbox_pkey on approval_inbox i",
		"Index Cond: ((key = k.key) AND (request_id > ",
		"Index Only Scan using approval_excluded_pkey on approval_excluded x",
		"SubPlan", // the exclusion probes per candidate; not an anti join that may scan
		"using approvals_pkey on approvals",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the inbox plan lacks %q; plan:\n%s", want, got)
		}
	}
}

func TestDueReminders_UsesPartialIndex(t *testing.T) {
	t.Parallel()
	s := open(t, pgtest.URL(t))
	if got := explain(t, s, remindersQuery, time.Now(), 10); !strings.Contains(got, "Index Only Scan using approvals_reminders") || strings.Contains(got, "Sort") {
		t.Errorf("the reminders query does not read just approvals_reminders, in order; plan:\n%s", got)
	}
}

// TestDeletePolicy_WaitsForRuleNamingIt deletes a policy while another
// transaction has made a rule name it (checked, as CreateServiceRule does,
// with a lock on the policy's row) and not yet committed: the delete waits,
// and once the rule commits it is a conflict. A rule named after the
// delete committed is refused.
func TestDeletePolicy_WaitsForRuleNamingIt(t *testing.T) {
	t.Parallel()
	s := open(t, pgtest.URL(t))
	for _, name := range []string{"release", "audit"} {
		p := &approval.StoredPolicy{Name: name, Policy: approval.DefaultPolicy(), CreatedAt: time.Now(), UpdatedAt: time.Now()}
		if err := s.CreatePolicy(t.Context(), p); err != nil {
			t.Fatal(err)
		}
	}
	tx, pid := holdInTx(t, s, "SELECT 1 FROM policies WHERE name = 'release' FOR KEY SHARE")
	if _, err := tx.Exec(t.Context(), `
		INSERT INTO service_rules (name, url, format, timeout_ms, max_attempts, policy, created_at, updated_at)
		VALUES ('billing', 'https://billing.example/', 'standard', 1000, 1, 'release', now(), now())`); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.DeletePolicy(t.Context(), "release") }()
	waitBlockedBy(t, s, pid)
	if err := tx.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; approval.KindOf(err) != approval.KindConflict {
		t.Errorf("DeletePolicy = %v, want a conflict", err)
	}

	// The other way round: a rule waits for the delete, then finds no policy.
	tx, pid = holdInTx(t, s, "DELETE FROM policies WHERE name = 'audit'")
	go func() {
		errc <- s.CreateServiceRule(t.Context(), &approval.ServiceRule{Name: "stash", URL: "https://stash.example/", Policy: "audit"})
	}()
	waitBlockedBy(t, s, pid)
	if err := tx.Commit(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; approval.KindOf(err) != approval.KindInvalid {
		t.Errorf("CreateServiceRule naming a policy deleted meanwhile = %v, want an invalid-input error", err)
	}
}

// TestMigration6_APIKeyOriginsAndHashes migrates api keys of version 5 up:
// the admin keys become bootstrap keys, the others API keys. Migrating down
// again keeps one key of each hash.
func TestMigration6_APIKeyOriginsAndHashes(t *testing.T) {
	t.Parallel()
	s := open(t, pgtest.URL(t))
	db := stdlib.OpenDBFromPool(s.pool)
	defer db.Close()
	m, err := migrator(db)
	if err != nil {
		t.Fatal(err)
	}
	storetest.Migration6(t, s, m, func(admin, billing string) {
		if _, err := s.pool.Exec(t.Context(), `
			INSERT INTO api_keys (id, name, prefix, hash, scopes, groups, created_at, revoked_at)
			VALUES ($1, 'admin', 'apd_adm', 'hash-admin', '["admin"]', '[]', now(), NULL),
			       ($2, 'billing', 'apd_bil', 'hash-billing', '["approvals:read"]', '[]', now(), now())`, admin, billing); err != nil {
			t.Fatal(err)
		}
	}, func() []string {
		rows, err := s.pool.Query(t.Context(), "SELECT id::text FROM api_keys WHERE hash = 'hash-billing'")
		if err != nil {
			t.Fatal(err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return ids
	})
}

// migrator returns the goose provider of the embedded migrations on db.
func migrator(db *sql.DB) (*goose.Provider, error) {
	return sqlstore.Migrator(db, goose.DialectPostgres, migrations)
}
