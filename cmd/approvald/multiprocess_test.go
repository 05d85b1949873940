package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"approvald/store/postgres/pgtest"
)

// childEnv marks a test binary started as an approvald process by
// startProcess: TestMain then runs approvald instead of the tests.
const childEnv = "APPROVALD_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := run(ctx, nil, os.Getenv, os.Stdout, os.Stderr, func(a net.Addr) { fmt.Printf("LISTENING %s\n", a) })
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "approvald:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// process is approvald running as a separate OS process.
type process struct {
	base   string
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan error
	killed bool
}

// kill stops the process with SIGKILL, as a crash would.
func (p *process) kill(t *testing.T) {
	t.Helper()
	p.killed = true
	_ = p.cmd.Process.Kill()
	<-p.done
}

// startProcess starts approvald as a separate OS process (this test binary
// in child mode) with env, and returns it once it listens. SIGTERM stops it
// when the test ends; it must then exit cleanly.
func startProcess(t *testing.T, env map[string]string) string {
	return launch(t, env).base
}

func launch(t *testing.T, env map[string]string) *process {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	// The tests drive load from one key; httpapi tests the rate limits.
	cmd.Env = append(os.Environ(), childEnv+"=1", "APPROVALD_ADDR=127.0.0.1:0", "APPROVALD_LOG_LEVEL=warn", "APPROVALD_RATE_LIMIT=-1")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &process{cmd: cmd, stderr: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "LISTENING "); ok {
				addr <- a
			}
		}
		p.done <- cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if p.killed {
			return
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-p.done:
			if err != nil {
				t.Errorf("approvald process exited with %v\n%s", err, p.stderr.String())
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("approvald process did not stop on SIGTERM")
		}
		if strings.Contains(p.stderr.String(), "DATA RACE") {
			t.Errorf("race in an approvald process:\n%s", p.stderr.String())
		}
	})
	select {
	case a := <-addr:
		p.base = "http://" + a
	case <-time.After(60 * time.Second):
		t.Fatalf("approvald process did not start:\n%s", p.stderr.String())
	}
	return p
}

// TestMultiProcess_ConcurrentDecisionsOnOnePostgres runs three approvald
// processes on one PostgreSQL database and sends reviews, cancels and edits
// of the same requests through all three at once. Every request must end with
// exactly one decision and a whole, verified history.
func TestMultiProcess_ConcurrentDecisionsOnOnePostgres(t *testing.T) {
	db := pgtest.URL(t)
	env := map[string]string{"APPROVALD_DATABASE": db, "APPROVALD_ADMIN_KEY": testAdminKey, "APPROVALD_DB_MAX_CONNS": "8"}
	var bases [3]string
	var wg sync.WaitGroup
	for i := range bases {
		wg.Go(func() { bases[i] = startProcess(t, env) }) // three starts at once: migrations under a lock
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	admin := client{t: t, base: bases[0], key: testAdminKey}
	newKey := func(name string, scopes ...string) string {
		return admin.must(201, "POST", "/v1/api-keys", map[string]any{"name": name, "scopes": scopes})["key"].(string)
	}
	requester := newKey("requester", "approvals:create", "approvals:read")
	const reviewers = 12
	var revKeys []string
	for i := range reviewers {
		revKeys = append(revKeys, newKey(fmt.Sprintf("rev%d", i), "approvals:review"))
	}
	on := func(i int, key string) client { return client{t: t, base: bases[i%len(bases)], key: key} }

	const requests = 8
	ids := make([]string, requests)
	for i := range ids {
		ids[i] = on(i, requester).must(201, "POST", "/v1/approvals", map[string]any{"title": fmt.Sprintf("r%d", i)})["id"].(string)
	}

	type outcome struct{ decisions, conflicts, edits int }
	results := make([]outcome, requests)
	var mu sync.Mutex
	start := make(chan struct{})
	for r, id := range ids {
		for i := range reviewers + 2 {
			wg.Go(func() {
				<-start
				var code int
				var decided bool
				switch {
				case i == reviewers: // the requester cancels
					code, _, _ = on(i+r, requester).do("POST", "/v1/approvals/"+id+"/cancel", nil)
					decided = code == 200
				case i == reviewers+1: // the requester edits the comment
					code, _, _ = on(i+r, requester).do("PATCH", "/v1/approvals/"+id, map[string]any{"comment": "edited"})
				default:
					decision := []string{"approve", "reject"}[(i+r)%2]
					code, _, _ = on(i+r, revKeys[i]).do("POST", "/v1/approvals/"+id+"/reviews", map[string]any{"decision": decision})
					decided = code == 200
				}
				mu.Lock()
				defer mu.Unlock()
				switch {
				case decided:
					results[r].decisions++
				case code == 409:
					results[r].conflicts++
				case code == 200:
					results[r].edits++
				default:
					t.Errorf("request %d, actor %d: unexpected status %d", r, i, code)
				}
			})
		}
	}
	close(start)
	wg.Wait()

	reader := newKey("auditor", "approvals:read")
	for r, id := range ids {
		if results[r].decisions != 1 {
			t.Errorf("request %d: %d decisions succeeded, want exactly 1 (%+v)", r, results[r].decisions, results[r])
		}
		for i := range bases {
			got := on(i, reader).must(200, "GET", "/v1/approvals/"+id, nil)
			switch got["status"] {
			case "approved", "rejected", "cancelled":
			default:
				t.Errorf("request %d via process %d: status %v", r, i, got["status"])
			}
			h := on(i, reader).must(200, "GET", "/v1/approvals/"+id+"/history", nil)
			items := h["items"].([]any)
			if h["verified"] != true || float64(len(items)) != got["version"].(float64) {
				t.Errorf("request %d: history verified=%v with %d entries at version %v", r, h["verified"], len(items), got["version"])
			}
			var decisions int
			for _, it := range items {
				switch it.(map[string]any)["action"] {
				case "approve", "reject", "cancel":
					decisions++
				}
			}
			if decisions != 1 {
				t.Errorf("request %d: history holds %d decisions", r, decisions)
			}
		}
	}
}
