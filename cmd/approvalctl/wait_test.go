package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"approvald/client"
)

// TestCLI_WaitExitCodes checks the exit code of wait for every outcome a
// pipeline must tell apart.
func TestCLI_WaitExitCodes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// prepare returns the arguments of wait, after making the request
		// reach the outcome.
		prepare func(t *testing.T, p people) []string
		code    int
		stderr  string
	}{
		{"approved", func(t *testing.T, p people) []string {
			id := p.create("--title", "ok")
			p.reviewer.ok("approve", id)
			return []string{id}
		}, 0, ""},
		{"rejected", func(t *testing.T, p people) []string {
			id := p.create("--title", "no")
			p.reviewer.ok("reject", id)
			return []string{id}
		}, 1, ""},
		{"cancelled", func(t *testing.T, p people) []string {
			id := p.create("--title", "never mind")
			p.requester.ok("cancel", id)
			return []string{id}
		}, 2, ""},
		{"expired while waiting", func(t *testing.T, p people) []string {
			return []string{p.create("--title", "too slow", "--deadline", "1500ms")}
		}, 2, ""},
		{"error: the decision could not be delivered", func(t *testing.T, p people) []string {
			receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "unknown tenant", http.StatusBadRequest)
			}))
			t.Cleanup(receiver.Close)
			rule := fmt.Sprintf("refuses-%d", time.Now().UnixNano())
			p.admin.ok("rules", "create", rule, "--url", receiver.URL, "--max-attempts", "1")
			id := p.create("--title", "undeliverable", "--service-rule", rule)
			p.reviewer.ok("approve", id)
			return []string{id}
		}, 3, "is in error (acknowledged_approved): its decision could not be delivered"},
		{"timeout", func(t *testing.T, p people) []string {
			return []string{p.create("--title", "nobody looks"), "--timeout", "500ms"}
		}, 3, "timed out after 500ms waiting for"},
		{"unknown request", func(t *testing.T, p people) []string {
			return []string{"0190a5f0-0000-7000-8000-000000000000"}
		}, 3, "404 not_found"},
		{"bad flag", func(t *testing.T, p people) []string {
			return []string{"x", "--timeout", "soon"}
		}, 3, `invalid argument "soon" for "--timeout"`},
		{"missing id", func(t *testing.T, p people) []string { return nil }, 3, "missing ID"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p := setup(t)
			args := c.prepare(t, p)
			r := p.requester.run(append([]string{"wait"}, args...)...)
			if r.code != c.code || !strings.Contains(r.stderr, c.stderr) {
				t.Fatalf("want exit %d and stderr with %q; got %s", c.code, c.stderr, r)
			}
			if c.code <= 2 && (r.stderr != "" || !strings.Contains(r.stdout, args[0])) {
				t.Fatalf("piped, wait prints only the request; got %s", r)
			}
		})
	}
}

func TestCLI_WaitOnAnUnreachableServerExits3WithAClearMessage(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	r := newCtl(t, "x").with("APPROVALD_URL", srv.URL).run("wait", "abc")
	if r.code != 3 || !strings.Contains(r.stderr, "cannot reach approvald at "+srv.URL) || !strings.Contains(r.stderr, "connection refused") {
		t.Fatalf("%s", r)
	}
}

func TestCLI_CreateWaitBlocksUntilTheDecisionAndPrintsJSON(t *testing.T) {
	t.Parallel()
	p := setup(t)
	title := fmt.Sprintf("deploy %d", time.Now().UnixNano())

	// Start "create --wait" as its own process, approve what it created,
	// and read its exit code.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, approvalctlBin, "create", "--title", title, "--wait", "-o", "json")
	cmd.Env = baseEnv()
	for k, v := range p.requester.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cl, err := client.New(shared.URL, client.WithToken(p.requesterKey.Secret))
	if err != nil {
		t.Fatal(err)
	}
	var id string
	for id == "" && ctx.Err() == nil {
		page, err := cl.List(ctx, client.ListOptions{Requester: p.requesterKey.Principal()})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) > 0 {
			id = page.Items[0].ID
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
	p.reviewer.ok("approve", id)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("create --wait: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), `"status": "approved"`) || !strings.Contains(stdout.String(), id) {
		t.Fatalf("create --wait printed:\n%s", stdout.String())
	}
}
