package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"approvald/client/clienttest"
)

// The binaries the end-to-end tests run, and the server most of them share
// (each test makes its own keys, so their requests never mix).
var (
	approvalctlBin string
	approvaldBin   string
	shared         *clienttest.Server
)

// testVersion is set into the test binary with -ldflags -X.
const testVersion = "v9.9.9-test"

func TestMain(m *testing.M) {
	os.Exit(clienttest.Main(m, func(dir, bin string, s *clienttest.Server) error {
		approvaldBin, shared = bin, s
		flags := []string{"-ldflags=-X main.version=" + testVersion}
		if raceEnabled {
			flags = append(flags, "-race")
		}
		var err error
		approvalctlBin, err = clienttest.Build("approvald/cmd/approvalctl", dir, flags...)
		return err
	}))
}

// result is what one run of approvalctl left.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

// ctl runs approvalctl in an environment of its own: a HOME and config file
// in a temporary folder, and the variables of env (nothing inherited but
// PATH, so a developer's APPROVALD_URL cannot leak in).
type ctl struct {
	t     *testing.T
	env   map[string]string
	stdin string
}

// newCtl returns a runner against the shared server with token.
func newCtl(t *testing.T, token string) *ctl {
	home := t.TempDir()
	return &ctl{t: t, env: map[string]string{
		"HOME":               home,
		"APPROVALCTL_CONFIG": filepath.Join(home, "approvalctl.yaml"),
		"APPROVALD_URL":      shared.URL,
		"APPROVALD_TOKEN":    token,
	}}
}

// with returns a copy of c with more variables ("" removes one).
func (c *ctl) with(kv ...string) *ctl {
	n := &ctl{t: c.t, env: map[string]string{}, stdin: c.stdin}
	for k, v := range c.env {
		n.env[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(n.env, kv[i])
		} else {
			n.env[kv[i]] = kv[i+1]
		}
	}
	return n
}

// input returns a copy of c that feeds s to standard input.
func (c *ctl) input(s string) *ctl {
	n := c.with()
	n.stdin = s
	return n
}

// baseEnv is the environment every approvalctl run starts from: PATH, and
// no race-detector pause at exit (1s by default, per run).
func baseEnv() []string {
	return []string{"PATH=" + os.Getenv("PATH"), "GORACE=atexit_sleep_ms=0"}
}

// run runs approvalctl with args and returns its outcome.
func (c *ctl) run(args ...string) result {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, approvalctlBin, args...)
	cmd.Env = baseEnv()
	for k, v := range c.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Stdin = strings.NewReader(c.stdin)
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("running approvalctl %v: %v", args, err)
	}
	r := result{stdout.String(), stderr.String(), code}
	if strings.Contains(r.stderr, "DATA RACE") {
		c.t.Errorf("race in approvalctl %v:\n%s", args, r.stderr)
	}
	return r
}

// ok runs approvalctl and fails the test unless it exits 0.
func (c *ctl) ok(args ...string) result {
	c.t.Helper()
	r := c.run(args...)
	if r.code != 0 {
		c.t.Fatalf("approvalctl %s: %s", strings.Join(args, " "), r)
	}
	return r
}

// okJSON runs approvalctl with -o json and decodes its output into v.
func (c *ctl) okJSON(v any, args ...string) {
	c.t.Helper()
	r := c.ok(append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		c.t.Fatalf("approvalctl %s -o json printed no JSON (%v):\n%s", strings.Join(args, " "), err, r.stdout)
	}
}

// request is the part of an approval request the tests look at.
type request struct {
	ID          string          `json:"id"`
	Title       string          `json:"title"`
	Description string          `json:"description"`
	Status      string          `json:"status"`
	StatusCode  int             `json:"status_code"`
	Requester   string          `json:"requester"`
	Version     int             `json:"version"`
	Payload     json.RawMessage `json:"payload"`
	Comment     string          `json:"comment"`
	Subject     string          `json:"subject"`
	Deadline    *time.Time      `json:"deadline"`
	ServiceRule string          `json:"service_rule"`
	DependsOn   []string        `json:"depends_on"`
	Reviews     []struct {
		Reviewer string `json:"reviewer"`
		Decision string `json:"decision"`
		Comment  string `json:"comment"`
	} `json:"reviews"`
}

// people are the keys of one test: a requester, a reviewer and the admin.
type people struct {
	requester, reviewer, admin *ctl
	requesterKey               clienttest.Key
}

func setup(t *testing.T) people {
	t.Helper()
	rk := shared.NewKey(t, "requester", "approvals:create", "approvals:read")
	return people{
		requester:    newCtl(t, rk.Secret),
		requesterKey: rk,
		reviewer:     newCtl(t, shared.NewKey(t, "reviewer", "approvals:review", "approvals:read").Secret),
		admin:        newCtl(t, clienttest.AdminKey),
	}
}

// create makes a request with args and returns its id.
func (p people) create(args ...string) string {
	r := p.requester.ok(append([]string{"create", "-o", "name"}, args...)...)
	return strings.TrimSpace(r.stdout)
}
