package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"approvald/store/postgres"
	"approvald/store/postgres/pgtest"
	"approvald/store/sqlite"
)

// runCommand runs approvald with args as main does, with env for the
// environment, and returns its output and error.
func runCommand(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), args, func(k string) string { return env[k] }, &out, &errOut, nil)
	return out.String(), errOut.String(), err
}

// databases are the URLs of a fresh database of each store.
var databases = map[string]func(t *testing.T) string{
	"sqlite":   func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "approvald.db") },
	"postgres": func(t *testing.T) string { return pgtest.URL(t) },
}

// driverOf returns the database/sql driver and data source of a database URL.
func driverOf(url string) (string, string) {
	if path, ok := strings.CutPrefix(url, "sqlite:"); ok {
		return "sqlite", path
	}
	return "pgx", url
}

func TestMigrate_FreshDatabaseThenVersion(t *testing.T) {
	for name, newDB := range databases {
		t.Run(name, func(t *testing.T) {
			db := newDB(t)
			want := sqlite.SchemaVersion()
			if name == "postgres" {
				want = postgres.SchemaVersion()
			}
			out, errOut, err := runCommand(t, nil, "migrate", "--database", db)
			if err != nil {
				t.Fatalf("migrate: %v\n%s", err, errOut)
			}
			if !strings.Contains(out, fmt.Sprintf("schema version %d", want)) {
				t.Errorf("migrate printed %q, want schema version %d", out, want)
			}
			// Again: nothing to do, still fine.
			if _, _, err := runCommand(t, map[string]string{"APPROVALD_DATABASE": db}, "migrate"); err != nil {
				t.Fatalf("second migrate: %v", err)
			}
			out, _, err = runCommand(t, nil, "version", "-o", "json", "--database", db)
			if err != nil {
				t.Fatalf("version: %v", err)
			}
			var v versionInfo
			if err := json.Unmarshal([]byte(out), &v); err != nil {
				t.Fatalf("version -o json: %v: %s", err, out)
			}
			if v.Database == nil || v.Database.Schema != want {
				t.Errorf("version -o json: database %+v, want schema %d", v.Database, want)
			}
		})
	}
}

func TestMigrate_RefusesANewerSchema(t *testing.T) {
	for name, newDB := range databases {
		t.Run(name, func(t *testing.T) {
			db := newDB(t)
			if _, _, err := runCommand(t, nil, "migrate", "--database", db); err != nil {
				t.Fatalf("migrate: %v", err)
			}
			known := schemaVersion(db)
			stampVersion(t, db, known+1)

			_, _, err := runCommand(t, nil, "migrate", "--database", db)
			wantMsg := fmt.Sprintf("the database is at schema version %d, this approvald knows versions up to %d", known+1, known)
			if err == nil || !strings.Contains(err.Error(), wantMsg) {
				t.Fatalf("migrate against a newer schema: %v, want an error saying %q", err, wantMsg)
			}
			if strings.Contains(err.Error(), "internal error") {
				t.Errorf("the message hides its cause: %v", err)
			}
			// The server serves it (migrations are additive: an older
			// release runs on a newer schema during a rollout or after a
			// rollback), warning with the same message.
			env := map[string]string{"APPROVALD_DATABASE": db, "APPROVALD_ADDR": "127.0.0.1:0"}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var logs syncBuffer
			served := make(chan error, 1)
			listening := make(chan net.Addr, 1)
			go func() {
				served <- run(ctx, nil, func(k string) string { return env[k] }, io.Discard, &logs, func(a net.Addr) { listening <- a })
			}()
			select {
			case a := <-listening:
				res, err := http.Get("http://" + a.String() + "/readyz")
				if err == nil {
					res.Body.Close()
				}
				if err != nil || res.StatusCode != http.StatusOK {
					t.Errorf("readyz on a newer schema: %v %v", err, res)
				}
				cancel()
			case err := <-served:
				t.Fatalf("server against a newer schema: %v\n%s", err, logs.String())
			}
			if err := <-served; err != nil {
				t.Fatalf("server against a newer schema: %v", err)
			}
			if !strings.Contains(logs.String(), wantMsg) {
				t.Errorf("the server did not warn %q: %s", wantMsg, logs.String())
			}
			// version reports the database's version.
			out, _, err := runCommand(t, nil, "version", "--database", db)
			if err != nil || !strings.Contains(out, fmt.Sprintf("at schema version %d", known+1)) {
				t.Errorf("version: %v: %s", err, out)
			}
		})
	}
}

// stampVersion records version in goose's table of the database at url,
// as a newer approvald's migration would.
func stampVersion(t *testing.T, url string, version int64) {
	t.Helper()
	driver, source := driverOf(url)
	db, err := sql.Open(driver, source)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q := "INSERT INTO goose_db_version (version_id, is_applied) VALUES (?, true)"
	if driver == "pgx" {
		q = strings.Replace(q, "?", "$1", 1)
	}
	if _, err := db.Exec(q, version); err != nil {
		t.Fatal(err)
	}
}

func TestVersion_PrintsBuildAndSchemaVersions(t *testing.T) {
	out, _, err := runCommand(t, nil, "version")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"approvald ", "go:       go1.", fmt.Sprintf("schema:   sqlite %d, postgres %d", sqlite.SchemaVersion(), postgres.SchemaVersion())} {
		if !strings.Contains(out, want) {
			t.Errorf("version output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "database:") {
		t.Errorf("version without --database reports a database:\n%s", out)
	}
	if sqlite.SchemaVersion() < 10 || postgres.SchemaVersion() < 10 {
		t.Errorf("schema versions %d, %d: the embedded migrations were not found", sqlite.SchemaVersion(), postgres.SchemaVersion())
	}
	if _, _, err := runCommand(t, nil, "version", "-o", "yaml"); err == nil {
		t.Error("version -o yaml succeeded")
	}
}

func TestHelp_ListsTheCommands(t *testing.T) {
	_, errOut, err := runCommand(t, nil, "--help")
	if err != nil {
		t.Fatal(err)
	}
	for name := range commands {
		if !strings.Contains(errOut, "approvald "+name) {
			t.Errorf("--help does not show %s", name)
		}
	}
}

func TestHealthcheck_RunningServerAndNothing(t *testing.T) {
	base := startServer(t, nil)
	addr := strings.TrimPrefix(base, "http://")
	if out, _, err := runCommand(t, map[string]string{"APPROVALD_ADDR": addr}, "healthcheck"); err != nil || !strings.Contains(out, "200") {
		t.Errorf("healthcheck --addr of a running server: %v %q", err, out)
	}
	if _, _, err := runCommand(t, nil, "healthcheck", base); err != nil {
		t.Errorf("healthcheck %s: %v", base, err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nothing := ln.Addr().String()
	ln.Close()
	if _, _, err := runCommand(t, nil, "healthcheck", "--addr", nothing); err == nil {
		t.Error("healthcheck against nothing succeeded")
	}
	// A server that answers, but not 200.
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	})}
	ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	if _, _, err := runCommand(t, nil, "healthcheck", "http://"+ln.Addr().String()); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("healthcheck against a 503: %v", err)
	}
}

func TestBackup_RefusesPostgresAndAnExistingFile(t *testing.T) {
	_, _, err := runCommand(t, nil, "backup", filepath.Join(t.TempDir(), "b.db"), "--database", "postgres://u@127.0.0.1:1/db")
	if err == nil || !strings.Contains(err.Error(), "pg_dump") || !strings.Contains(err.Error(), "docs/deploy.md") {
		t.Errorf("backup of PostgreSQL: %v, want the pg_dump recipe's place", err)
	}
	db := "sqlite:" + filepath.Join(t.TempDir(), "approvald.db")
	if _, _, err := runCommand(t, nil, "migrate", "--database", db); err != nil {
		t.Fatal(err)
	}
	existing := filepath.Join(t.TempDir(), "exists.db")
	if err := os.WriteFile(existing, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCommand(t, nil, "backup", "--database", db, existing); err == nil {
		t.Error("backup overwrote an existing file")
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep" {
		t.Errorf("the existing file was changed: %q", b)
	}
	if _, _, err := runCommand(t, nil, "backup", "--database", db); err == nil {
		t.Error("backup without FILE succeeded")
	}
}

// TestBackup_RestoreUnderWriteLoad is the restore procedure of
// docs/deploy.md: a server on SQLite takes creates and approvals while
// approvald backup copies its database; a fresh server on the copy
// verifies its history and has every write acknowledged before the backup
// started.
func TestBackup_RestoreUnderWriteLoad(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"APPROVALD_ADMIN_KEY": testAdminKey, "APPROVALD_DATABASE": "sqlite:" + filepath.Join(dir, "live.db")}
	base, _, stop := startServerLogs(t, env)
	admin := client{t: t, base: base, key: testAdminKey}
	newKey := func(name string, scopes ...string) string {
		return admin.must(201, "POST", "/v1/api-keys", map[string]any{"name": name, "scopes": scopes})["key"].(string)
	}
	billing, ops := newKey("billing", "approvals:create", "approvals:read"), newKey("ops", "approvals:review", "approvals:read")

	// The writers: each creates a request, then approves every other one.
	var (
		mu       sync.Mutex
		acked    = map[string]string{} // id → status acknowledged
		writeErr error
	)
	ctx, stopWriters := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				code, m, err := postJSON(ctx, base+"/v1/approvals", billing, map[string]any{"title": fmt.Sprintf("w%d-%d", w, i)})
				if ctx.Err() != nil {
					return
				}
				if err != nil || code != 201 {
					mu.Lock()
					writeErr = fmt.Errorf("create: %d %v %v", code, m, err)
					mu.Unlock()
					return
				}
				id := m["id"].(string)
				mu.Lock()
				acked[id] = "pending"
				mu.Unlock()
				if i%2 == 1 {
					continue
				}
				code, m, err = postJSON(ctx, base+"/v1/approvals/"+id+"/reviews", ops, map[string]any{"decision": "approve"})
				if ctx.Err() != nil {
					return
				}
				if err != nil || code != 200 {
					mu.Lock()
					writeErr = fmt.Errorf("approve: %d %v %v", code, m, err)
					mu.Unlock()
					return
				}
				mu.Lock()
				acked[id] = "approved"
				mu.Unlock()
			}
		})
	}
	// Let some writes land, then back up while they go on.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 50 || time.Now().After(deadline) {
			break
		}
	}
	mu.Lock()
	before := make(map[string]string, len(acked))
	for id, status := range acked {
		before[id] = status
	}
	mu.Unlock()
	backupFile := filepath.Join(dir, "backup.db")
	out, errOut, err := runCommand(t, env, "backup", backupFile)
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, errOut)
	}
	t.Log(strings.TrimSpace(out))
	time.Sleep(50 * time.Millisecond) // writes after the backup too
	stopWriters()
	wg.Wait()
	stop()
	if writeErr != nil {
		t.Fatal(writeErr)
	}
	mu.Lock()
	t.Logf("%d writes acknowledged before the backup, %d in all", len(before), len(acked))
	mu.Unlock()
	if len(before) == 0 {
		t.Fatal("no write was acknowledged before the backup")
	}

	restored := startServer(t, map[string]string{"APPROVALD_ADMIN_KEY": testAdminKey, "APPROVALD_DATABASE": "sqlite:" + backupFile})
	admin = client{t: t, base: restored, key: testAdminKey}
	v := admin.must(200, "GET", "/v1/history/verify", nil)
	if v["failures_total"] != float64(0) || v["requests"].(float64) < float64(len(before)) {
		t.Fatalf("history/verify on the restored copy: %v", v)
	}
	for id, status := range before {
		got := admin.must(200, "GET", "/v1/approvals/"+id, nil)
		// An approval acknowledged after the snapshot of before may be
		// there too; an acknowledged one must be.
		if got["status"] != status && !(status == "pending" && got["status"] == "approved") {
			t.Errorf("%s: status %v after the restore, %s acknowledged before the backup", id, got["status"], status)
		}
	}
}

// postJSON POSTs body as JSON with the API key and decodes the answer; it
// is safe to call from any goroutine.
func postJSON(ctx context.Context, url, key string, body any) (int, map[string]any, error) {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var m map[string]any
	err = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m, err
}
