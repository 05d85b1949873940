// Package clienttest runs the real approvald for the end-to-end tests of
// the Go client and of approvalctl: it builds the binary once, starts it as
// a separate process on a free loopback port with its own SQLite file, and
// makes API keys on it.
package clienttest

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver, for Exec
)

// AdminKey is the bootstrap admin key of every server started here
// (principal svc:admin).
const AdminKey = "apd_clienttest-admin-key-0123456789abcdefghij"

// Build compiles the main package pkg (such as "approvald/cmd/approvald")
// into dir with the extra go build flags and returns the binary's path. It
// returns the compiler's output as the error on failure.
func Build(pkg, dir string, flags ...string) (string, error) {
	out := filepath.Join(dir, filepath.Base(pkg))
	args := append([]string{"build", "-o", out}, flags...)
	cmd := exec.Command("go", append(args, pkg)...)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, msg)
	}
	return out, nil
}

// Main is the body of a TestMain whose tests share one server: it builds
// approvald into a new temporary folder and launches it, calls setup with
// the folder (to build more binaries into), the approvald binary and the
// server, runs m, and stops the server. It returns the exit code for
// os.Exit: m's, or 1 after printing why on standard error when the build,
// the launch, setup or the server's stop fails.
func Main(m *testing.M, setup func(dir, approvald string, shared *Server) error) int {
	dir, err := os.MkdirTemp("", "clienttest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin, err := Build("approvald/cmd/approvald", dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	s, err := Launch(bin, dir, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := 1
	if err := setup(dir, bin, s); err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		code = m.Run()
	}
	if err := s.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	return code
}

// Server is an approvald process.
type Server struct {
	// URL is the server's base URL, such as http://127.0.0.1:41234.
	URL string
	// DB is the path of its SQLite file.
	DB string

	cmd  *exec.Cmd
	done chan error
	log  *tail
}

// Launch starts the approvald binary bin with a new SQLite file in dir,
// the variables of env on top of the test defaults (no rate limit, a quick
// expiry sweep), and returns once it answers /healthz. Stop it with Close.
func Launch(bin, dir string, env map[string]string) (*Server, error) {
	s := &Server{DB: filepath.Join(dir, "approvald.db"), done: make(chan error, 1), log: &tail{max: 64 << 10}}
	vars := map[string]string{
		"APPROVALD_ADDR":           "127.0.0.1:0",
		"APPROVALD_DATABASE":       "sqlite:" + s.DB,
		"APPROVALD_ADMIN_KEY":      AdminKey,
		"APPROVALD_RATE_LIMIT":     "-1",
		"APPROVALD_SWEEP_INTERVAL": "200ms",
		"APPROVALD_LOG_FORMAT":     "json",
		"APPROVALD_LOG_LEVEL":      "info",
		"SECRETS_MNT_PATH":         filepath.Join(dir, "secrets"),
	}
	for k, v := range env {
		vars[k] = v
	}
	s.cmd = exec.Command(bin)
	s.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	for k, v := range vars {
		s.cmd.Env = append(s.cmd.Env, k+"="+v)
	}
	s.cmd.Stdout = io.Discard
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			_, _ = s.log.Write(line)
			_, _ = s.log.Write([]byte{'\n'})
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "approvald listening" {
				select {
				case addr <- rec.Addr:
				default:
				}
			}
		}
		_, _ = io.Copy(s.log, stderr)
		s.done <- s.cmd.Wait()
		close(s.done)
	}()
	select {
	case a := <-addr:
		s.URL = "http://" + a
	case err := <-s.done:
		return nil, fmt.Errorf("approvald exited before listening (%v):\n%s", err, s.log)
	case <-time.After(60 * time.Second):
		_ = s.cmd.Process.Kill()
		return nil, fmt.Errorf("approvald did not start listening:\n%s", s.log)
	}
	for i := 0; ; i++ {
		resp, err := http.Get(s.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if i == 200 {
			_ = s.Close()
			return nil, fmt.Errorf("approvald never answered /healthz: %v", err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Start is Launch for one test: the server stops when t ends.
func Start(t testing.TB, bin string, env map[string]string) *Server {
	t.Helper()
	s, err := Launch(bin, t.TempDir(), env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// Close stops the server with SIGTERM and returns an error if it does not
// exit cleanly within 30 seconds, with the end of its log.
func (s *Server) Close() error {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err, ok := <-s.done:
		if ok && err != nil {
			return fmt.Errorf("approvald exited with %v:\n%s", err, s.log)
		}
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		return errors.New("approvald did not stop on SIGTERM")
	}
	if strings.Contains(s.log.String(), AdminKey) {
		return errors.New("the admin key appeared in approvald's log")
	}
	return nil
}

// Exec runs statement on the server's SQLite file directly, behind the
// server's back, as someone with write access to the database could: tests
// tamper with the history this way. It fails t if the statement fails.
func (s *Server) Exec(t testing.TB, statement string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+s.DB+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(statement); err != nil {
		t.Fatalf("%s: %v", statement, err)
	}
}

// Log returns the end of the server's log.
func (s *Server) Log() string { return s.log.String() }

// Key is an API key made by [Server.NewKey].
type Key struct {
	ID string
	// Name is unique on the server; the key's principal is "svc:"+Name.
	Name string
	// Secret is the bearer token.
	Secret string
}

// Principal returns the key's principal.
func (k Key) Principal() string { return "svc:" + k.Name }

var nameSeq atomic.Int64

// UniqueName returns prefix with a suffix no other name made here uses, so
// tests sharing a server never collide.
func UniqueName(prefix string) string { return fmt.Sprintf("%s-%d", prefix, nameSeq.Add(1)) }

// NewKey makes an API key with scopes and groups ("group:NAME" entries of
// scopes are taken as groups). Its name is name with a unique suffix, so
// tests sharing a server never collide.
func (s *Server) NewKey(t testing.TB, name string, scopes ...string) Key {
	t.Helper()
	body := map[string]any{"name": UniqueName(name), "scopes": []string{}, "groups": []string{}}
	for _, sc := range scopes {
		if g, ok := strings.CutPrefix(sc, "group:"); ok {
			body["groups"] = append(body["groups"].([]string), g)
		} else {
			body["scopes"] = append(body["scopes"].([]string), sc)
		}
	}
	var out struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		Key  string `json:"key"`
	}
	if err := s.Call(context.Background(), AdminKey, "POST", "/v1/api-keys", body, &out); err != nil {
		t.Fatalf("creating key %s: %v", name, err)
	}
	return Key{ID: out.ID, Name: out.Name, Secret: out.Key}
}

// Call sends a JSON request with the bearer token and decodes a 2xx JSON
// answer into out (when not nil). Any other answer is an error with the
// status and body. It does not use package client, so the client's tests
// set up their fixtures independently of the code under test.
func (s *Server) Call(ctx context.Context, token, method, path string, in, out any) error {
	var rd io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, rd)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if out != nil && len(raw) > 0 {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append([]byte(nil), t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
