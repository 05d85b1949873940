package auth

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"approvald/approval"
	"approvald/store/postgres"
	"approvald/store/postgres/pgtest"
)

// Keys of files. Each is MinKeyLen characters or more.
var (
	keyA = "file-key-a-" + strings.Repeat("a", MinKeyLen)
	keyB = "file-key-b-" + strings.Repeat("b", MinKeyLen)
	keyC = "file-key-c-" + strings.Repeat("c", MinKeyLen)
	// adminKey is configured as APPROVALD_ADMIN_KEY.
	adminKey = strings.Repeat("z", MinKeyLen)
)

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func removeFile(t *testing.T, dir, name string) {
	t.Helper()
	if err := os.Remove(filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

// syncer is a Keys whose log the test reads, with a directory of key files.
type syncer struct {
	*Keys
	t   *testing.T
	st  approval.Store
	dir string
	mu  sync.Mutex
	log bytes.Buffer // since the last call of logged
	all bytes.Buffer // everything
}

// Write makes the log buffer safe for concurrent use.
func (s *syncer) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.all.Write(b)
	return s.log.Write(b)
}

func newSyncer(t *testing.T) *syncer {
	k, st := newKeys(t)
	s := &syncer{Keys: k, t: t, st: st, dir: t.TempDir()}
	k.WithLogger(slog.New(slog.NewTextHandler(s, nil)))
	t.Cleanup(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, secret := range []string{keyA, keyB, keyC, adminKey} {
			if strings.Contains(s.all.String(), secret) {
				t.Errorf("the log shows a key:\n%s", s.all.String())
			}
		}
	})
	return s
}

// logged returns the log so far and empties it.
func (s *syncer) logged() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.log.String()
	s.log.Reset()
	return out
}

func (s *syncer) sync() {
	s.t.Helper()
	if err := s.SyncFiles(context.Background(), s.dir); err != nil {
		s.t.Fatalf("SyncFiles: %v", err)
	}
}

// live returns the live keys by name.
func (s *syncer) live() map[string]approval.APIKey {
	s.t.Helper()
	keys, err := s.st.ListAPIKeys(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	out := map[string]approval.APIKey{}
	for _, key := range keys {
		if key.RevokedAt == nil {
			out[key.Name] = key
		}
	}
	return out
}

// count returns how many keys are stored, revoked ones included.
func (s *syncer) count() int {
	keys, err := s.st.ListAPIKeys(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	return len(keys)
}

// auth returns the principal of secret, or fails the test.
func (s *syncer) auth(secret string) approval.Principal {
	s.t.Helper()
	return mustAuth(s.t, s.Keys, secret)
}

// refused fails the test unless secret is refused.
func (s *syncer) refused(secret string) {
	s.t.Helper()
	if _, err := s.Authenticate(context.Background(), secret); approval.KindOf(err) != approval.KindUnauthenticated {
		s.t.Errorf("a key is still accepted: %v", err)
	}
}

func TestSyncFiles_CreateChangeRemove(t *testing.T) {
	s := newSyncer(t)
	s.WithCache(time.Minute) // changes must reach this process's cache
	writeFile(t, s.dir, "billing", "  "+keyA+"  \nscopes: approvals:create, approvals:read\ngroups: finance, ops\n")
	writeFile(t, s.dir, "reader", keyB+"\n")
	s.sync()

	live := s.live()
	if len(live) != 2 || live["billing"].Origin != approval.KeyOriginFile || live["reader"].Origin != approval.KeyOriginFile {
		t.Fatalf("live keys %+v, want billing and reader from files", live)
	}
	if p := s.auth(keyA); p.ID != "svc:billing" || !p.Has(approval.ScopeCreate) || !p.Has(approval.ScopeRead) ||
		p.Has(approval.ScopeReview) || !reflect.DeepEqual(p.Groups, []string{"finance", "ops"}) {
		t.Errorf("billing authenticates as %+v", p)
	}
	// Without a scopes line a key may only read.
	if p := s.auth(keyB); p.ID != "svc:reader" || !reflect.DeepEqual(p.Scopes, []approval.Scope{approval.ScopeRead}) || len(p.Groups) != 0 {
		t.Errorf("reader authenticates as %+v, want approvals:read only", p)
	}
	if log := s.logged(); strings.Count(log, "added an API key from its file") != 2 {
		t.Errorf("log:\n%s", log)
	}
	s.touching.Wait()
	live = s.live() // with their last use
	billing, reader := live["billing"], live["reader"]

	// Unchanged files change nothing, whatever their layout.
	writeFile(t, s.dir, "billing", keyA+"\r\n# billing\n\n  groups:ops,finance,ops \nSCOPES: approvals:read,approvals:create\n")
	s.sync()
	s.sync()
	if got := s.live(); !reflect.DeepEqual(got, live) || s.count() != 2 {
		t.Errorf("unchanged files churned the keys:\n%+v\nwant %+v", got, live)
	}
	if log := s.logged(); log != "" {
		t.Errorf("unchanged files logged:\n%s", log)
	}

	// A new key replaces the old at once.
	writeFile(t, s.dir, "billing", keyC+"\nscopes: approvals:create, approvals:read\ngroups: finance, ops\n")
	s.sync()
	s.refused(keyA)
	if p := s.auth(keyC); p.ID != "svc:billing" || !p.Has(approval.ScopeCreate) {
		t.Errorf("the new billing key authenticates as %+v", p)
	}
	next := s.live()["billing"]
	if next.ID == billing.ID || storedKey(t, s.st, billing.ID).RevokedAt == nil {
		t.Errorf("the old billing key %s was not replaced: %+v", billing.ID, next)
	}
	if log := s.logged(); !strings.Contains(log, "reason=\"key changed\"") {
		t.Errorf("log:\n%s", log)
	}

	// New scopes with the same key: replaced too, and the key is the same secret.
	writeFile(t, s.dir, "reader", keyB+"\nscopes: approvals:review\n")
	s.sync()
	if p := s.auth(keyB); !reflect.DeepEqual(p.Scopes, []approval.Scope{approval.ScopeReview}) {
		t.Errorf("reader authenticates as %+v after its scopes changed", p)
	}
	if got := s.live()["reader"]; got.ID == reader.ID || storedKey(t, s.st, reader.ID).RevokedAt == nil {
		t.Errorf("the reader key was not replaced: %+v", got)
	}
	if log := s.logged(); !strings.Contains(log, "reason=\"scopes or groups changed\"") {
		t.Errorf("log:\n%s", log)
	}

	// A removed file revokes its key.
	removeFile(t, s.dir, "reader")
	s.sync()
	s.refused(keyB)
	if _, ok := s.live()["reader"]; ok {
		t.Error("the key of a removed file is live")
	}
	if log := s.logged(); !strings.Contains(log, "revoked the API key of a removed file") {
		t.Errorf("log:\n%s", log)
	}

	// Putting the file back stores its key again.
	writeFile(t, s.dir, "reader", keyB+"\n")
	s.sync()
	s.auth(keyB)

	// A missing directory has no files: no error, and no file key survives.
	s.dir = filepath.Join(s.dir, "missing")
	s.sync()
	if live := s.live(); len(live) != 0 {
		t.Errorf("live keys %+v after the directory went, want none", live)
	}
}

func TestSyncFiles_BadFilesAreSkipped(t *testing.T) {
	s := newSyncer(t)
	writeFile(t, s.dir, "good", keyA+"\n")
	s.sync()
	good := s.live()["good"]

	for name, content := range map[string]string{
		"Bad Name":     keyB,
		"admin":        keyB,
		"short":        "apd_short\n",
		"empty":        "",
		"spaced":       "key with spaces in it " + keyB,
		"unknown":      keyB + "\nscopes: approvals:read, root\n",
		"no-scopes":    keyB + "\nscopes:\n",
		"bad-group":    keyB + "\ngroups: has space\n",
		"twice":        keyB + "\nscopes: approvals:read\nscopes: approvals:read\n",
		"stray":        keyB + "\n" + keyC + "\n", // a second key is not shown in the log
		"sub.d":        "",
		".hidden":      keyB,
		"..2025_01_01": "",
	} {
		if name == "sub.d" {
			if err := os.Mkdir(filepath.Join(s.dir, name), 0o700); err != nil {
				t.Fatal(err)
			}
			continue
		}
		writeFile(t, s.dir, name, content)
	}
	// A file that goes bad keeps its key: nothing is half-applied.
	writeFile(t, s.dir, "good", keyA+"\nscopes: approvals:create, approvals:fly\n")
	s.sync()

	if live := s.live(); len(live) != 1 || !reflect.DeepEqual(live["good"], good) {
		t.Errorf("live keys %+v, want only the good one, unchanged", live)
	}
	log := s.logged()
	for _, name := range []string{"\"Bad Name\"", "admin", "short", "empty", "spaced", "unknown", "no-scopes", "bad-group", "twice", "stray", "sub.d", "good"} {
		if !strings.Contains(log, "file="+name+" ") {
			t.Errorf("no warning about %s in:\n%s", name, log)
		}
	}
	if strings.Contains(log, "hidden") || strings.Contains(log, "2025") {
		t.Errorf("hidden files were warned about:\n%s", log)
	}
	if !strings.Contains(log, `unknown scope \"root\"`) {
		t.Errorf("the warning does not name the unknown scope:\n%s", log)
	}

	// A bad file is warned about once, not at every sync.
	s.sync()
	if log := s.logged(); log != "" {
		t.Errorf("the second sync logged again:\n%s", log)
	}
	// Fixed, it is used.
	writeFile(t, s.dir, "unknown", keyB+"\nscopes: approvals:read\n")
	s.sync()
	s.auth(keyB)
}

func TestSyncFiles_NamesAndKeysOfOtherKeysAreNotTaken(t *testing.T) {
	s := newSyncer(t)
	ctx := context.Background()
	api, apiSecret, err := s.Create(ctx, NewKey{Name: "ci", Scopes: scopes(approval.ScopeReview)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Bootstrap(ctx, adminKey, nil); err != nil {
		t.Fatal(err)
	}
	writeFile(t, s.dir, "ci", keyA+"\nscopes: admin\n") // an API key's name
	writeFile(t, s.dir, "ops", adminKey+"\n")           // the bootstrap key's secret
	writeFile(t, s.dir, "one", keyB+"\n")
	writeFile(t, s.dir, "two", keyB+"\n") // the same key as another file
	s.sync()

	live := s.live()
	if !reflect.DeepEqual(live["ci"], api) || len(live) != 3 || live["one"].Origin != approval.KeyOriginFile {
		t.Errorf("live keys %+v, want ci (from the API, unchanged), admin and one", live)
	}
	s.refused(keyA)
	if p := s.auth(apiSecret); !p.Has(approval.ScopeReview) || p.IsAdmin() {
		t.Errorf("ci authenticates as %+v", p)
	}
	log := s.logged()
	for _, want := range []string{"file=ci ", "file=ops ", "file=two ", "the file one holds the same key"} {
		if !strings.Contains(log, want) {
			t.Errorf("log has no %q:\n%s", want, log)
		}
	}

	// Renaming a file moves its key to the new name in one sync.
	removeFile(t, s.dir, "two")
	if err := os.Rename(filepath.Join(s.dir, "one"), filepath.Join(s.dir, "uno")); err != nil {
		t.Fatal(err)
	}
	s.sync()
	if p := s.auth(keyB); p.ID != "svc:uno" {
		t.Errorf("the renamed key authenticates as %s, want svc:uno", p.ID)
	}
}

// TestSyncFiles_KubernetesSecretVolume syncs a directory laid out as a
// Kubernetes secret volume: every file is a link into a hidden directory
// that an update swaps.
func TestSyncFiles_KubernetesSecretVolume(t *testing.T) {
	s := newSyncer(t)
	publish := func(version string, files map[string]string) {
		t.Helper()
		data := filepath.Join(s.dir, "..2025_"+version)
		if err := os.Mkdir(data, 0o700); err != nil {
			t.Fatal(err)
		}
		for name, content := range files {
			writeFile(t, data, name, content)
		}
		tmp := filepath.Join(s.dir, "..data_tmp")
		if err := os.Symlink(filepath.Base(data), tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(s.dir, "..data")); err != nil {
			t.Fatal(err)
		}
		for name := range files {
			link := filepath.Join(s.dir, name)
			if _, err := os.Lstat(link); err == nil {
				continue
			}
			if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
				t.Fatal(err)
			}
		}
	}
	publish("1", map[string]string{"billing": keyA + "\n"})
	s.sync()
	s.auth(keyA)
	publish("2", map[string]string{"billing": keyB + "\n"})
	s.sync()
	s.refused(keyA)
	s.auth(keyB)
	if log := s.logged(); strings.Contains(log, "skipping") {
		t.Errorf("the volume's own entries were warned about:\n%s", log)
	}
}

func TestSyncFiles_UnreadableDirectoryIsAnErrorAndChangesNothing(t *testing.T) {
	s := newSyncer(t)
	writeFile(t, s.dir, "billing", keyA+"\n")
	s.sync()
	notDir := filepath.Join(s.dir, "billing")
	if err := s.SyncFiles(context.Background(), notDir); err == nil {
		t.Error("SyncFiles of a file is not an error")
	}
	s.auth(keyA)
}

// TestSyncFiles_ConcurrentProcesses syncs the same files from several
// processes at once, as the replicas of a deployment do: every sync
// succeeds and each file has one live key.
func TestSyncFiles_ConcurrentProcesses(t *testing.T) {
	testSyncConcurrently(t, newSyncer(t))
}

// TestSyncFiles_ConcurrentProcessesPostgres is TestSyncFiles_ConcurrentProcesses
// on PostgreSQL, where the processes' transactions interleave.
func TestSyncFiles_ConcurrentProcessesPostgres(t *testing.T) {
	s := newSyncer(t)
	st, err := postgres.Open(context.Background(), pgtest.URL(t), 8)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s.st, s.store = st, st
	t.Cleanup(s.Close) // before st closes
	testSyncConcurrently(t, s)
}

func testSyncConcurrently(t *testing.T, s *syncer) {
	writeFile(t, s.dir, "billing", keyA+"\n")
	writeFile(t, s.dir, "ci", keyB+"\nscopes: approvals:review\n")
	run := func() {
		t.Helper()
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			k := NewKeys(s.st, time.Now).WithLogger(s.log2())
			t.Cleanup(k.Close)
			wg.Go(func() { errs[i] = k.SyncFiles(context.Background(), s.dir) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("SyncFiles %d: %v", i, err)
			}
		}
	}
	run()
	writeFile(t, s.dir, "billing", keyC+"\n")
	writeFile(t, s.dir, "ci", keyB+"\nscopes: approvals:review, approvals:read\n")
	run()
	removeFile(t, s.dir, "ci")
	run()
	live := s.live()
	if len(live) != 1 || s.count() != 4 {
		t.Errorf("%d keys stored, %d live (%+v); want 4 and 1", s.count(), len(live), live)
	}
	s.auth(keyC)
	s.refused(keyA)
	s.refused(keyB)
}

// log2 is a logger to the syncer's log, for other Keys.
func (s *syncer) log2() *slog.Logger { return slog.New(slog.NewTextHandler(s, nil)) }

func TestWatchFiles(t *testing.T) {
	s := newSyncer(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.WatchFiles(ctx, s.dir, 5*time.Millisecond)
	}()
	writeFile(t, s.dir, "billing", keyA+"\n")
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := s.Authenticate(context.Background(), keyA); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("WatchFiles did not add the key")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
}

func TestParseKeyFile_DefaultsAndNormalisation(t *testing.T) {
	f, problem := parseKeyFile(keyA + "\ngroups: b, a, b,\n")
	if problem != "" {
		t.Fatal(problem)
	}
	if !slices.Equal(f.scopes, []approval.Scope{approval.ScopeRead}) || !slices.Equal(f.groups, []string{"a", "b"}) || f.hash != HashKey(keyA) {
		t.Errorf("parsed %+v", f)
	}
}
