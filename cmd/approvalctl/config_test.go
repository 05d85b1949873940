package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"approvald/client/clienttest"
)

func TestCLI_ContextsFromTheConfigFileWithoutPrintingTokens(t *testing.T) {
	t.Parallel()
	p := setup(t)
	// No server or token in the environment: only the configuration file.
	c := p.requester.with("APPROVALD_URL", "", "APPROVALD_TOKEN", "")
	cfgFile := c.env["APPROVALCTL_CONFIG"]

	if r := c.run("list"); r.code != 1 || !strings.Contains(r.stderr, "no server: pass --server URL, set APPROVALD_URL") {
		t.Fatalf("without any server: %s", r)
	}
	secret := p.requester.env["APPROVALD_TOKEN"]
	out := c.input(secret+"\n").ok("config", "set-context", "prod", "--server", strings.TrimPrefix(shared.URL, "http://"), "--token-stdin").stdout
	if strings.Contains(out, secret) || !strings.Contains(out, "token set") {
		t.Fatalf("set-context printed %q", out)
	}
	c.ok("config", "set-context", "admin", "--server", shared.URL, "--token", clienttest.AdminKey)
	fi, err := os.Stat(cfgFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config file mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}

	// The first context became the current one.
	if cur := c.ok("config", "current-context").stdout; cur != "prod\n" {
		t.Fatalf("current-context %q", cur)
	}
	var r request
	c.okJSON(&r, "create", "--title", "via the context")
	if r.Requester != p.requesterKey.Principal() {
		t.Fatalf("requester %q", r.Requester)
	}
	// --context picks another; the admin may list keys.
	c.ok("--context", "admin", "keys", "list")
	if res := c.run("keys", "list"); res.code != 1 || !strings.Contains(res.stderr, "403 missing_scope") {
		t.Fatalf("keys list as prod: %s", res)
	}
	c.ok("config", "use-context", "admin")
	c.ok("keys", "list")
	// The environment overrides the current context; --context overrides
	// the environment.
	withEnv := c.with("APPROVALD_TOKEN", p.requester.env["APPROVALD_TOKEN"])
	if res := withEnv.run("keys", "list"); res.code != 1 {
		t.Fatalf("APPROVALD_TOKEN did not override the current context: %s", res)
	}
	withEnv.ok("--context", "admin", "keys", "list")

	table := c.ok("config", "get-contexts").stdout
	var rows []struct {
		Name    string `json:"name"`
		Token   string `json:"token"`
		Current bool   `json:"current"`
	}
	c.okJSON(&rows, "config", "get-contexts")
	if strings.Contains(table, secret) || strings.Contains(table, clienttest.AdminKey) || len(rows) != 2 ||
		rows[0].Name != "admin" || !rows[0].Current || rows[1].Token != "set" {
		t.Fatalf("get-contexts:\n%s\n%+v", table, rows)
	}
	if res := c.run("config", "use-context", "staging"); res.code != 1 || !strings.Contains(res.stderr, `no context "staging"; the contexts are: admin, prod`) {
		t.Fatalf("use of a missing context: %s", res)
	}
	c.ok("config", "delete-context", "admin")
	if res := c.run("config", "current-context"); res.code != 1 {
		t.Fatalf("current-context after deleting it: %s", res)
	}
}

func TestCLI_ConfigFileFallsBackToXDGConfigHome(t *testing.T) {
	t.Parallel()
	xdg := t.TempDir()
	c := newCtl(t, "").with("APPROVALCTL_CONFIG", "", "XDG_CONFIG_HOME", xdg)
	c.ok("config", "set-context", "x", "--server", "http://example.invalid:1")
	b, err := os.ReadFile(filepath.Join(xdg, "approvalctl", "config.yaml"))
	if err != nil || !strings.Contains(string(b), "current-context: x") {
		t.Fatalf("config file: %q %v", b, err)
	}
	// Readable by others: approvalctl warns.
	if err := os.Chmod(filepath.Join(xdg, "approvalctl", "config.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := c.ok("config", "get-contexts"); !strings.Contains(r.stderr, "chmod 600") {
		t.Fatalf("no warning about the mode: %s", r)
	}
}

func TestCLI_VersionAndCompletion(t *testing.T) {
	t.Parallel()
	c := newCtl(t, "")
	if out := c.ok("version").stdout; !strings.HasPrefix(out, "approvalctl "+testVersion+" (go") {
		t.Fatalf("version: %q", out)
	}
	var v struct{ Version, Go, Platform string }
	c.okJSON(&v, "version")
	if v.Version != testVersion || v.Go == "" || v.Platform == "" {
		t.Fatalf("version -o json: %+v", v)
	}
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		if out := c.ok("completion", shell).stdout; !strings.Contains(out, "approvalctl") {
			t.Errorf("completion %s printed no script", shell)
		}
	}

	// Completing an id asks the server.
	p := setup(t)
	id := p.create("--title", "complete me")
	out := p.requester.ok("__complete", "get", "").stdout
	if !strings.Contains(out, id+"\tpending: complete me") {
		t.Fatalf("completion of get:\n%s", out)
	}
	if out := p.requester.ok("__complete", "list", "--status", "").stdout; !strings.Contains(out, "acknowledged_approved") {
		t.Fatalf("completion of --status:\n%s", out)
	}
}

func TestCLI_ErrorsAreClear(t *testing.T) {
	t.Parallel()
	p := setup(t)
	cases := []struct {
		args   []string
		stderr []string
	}{
		{[]string{"list", "--bogus"}, []string{"error: unknown flag: --bogus", "Run 'approvalctl list --help' for usage."}},
		{[]string{"frobnicate"}, []string{`error: unknown command "frobnicate" for "approvalctl"`}},
		{[]string{"get"}, []string{"error: missing ID"}},
		{[]string{"approve", ""}, []string{"error: ID must not be empty"}},
		{[]string{"comment", "x"}, []string{"error: missing TEXT"}},
		{[]string{"list", "-o", "xml"}, []string{`--output "xml" is not one of table, json, yaml, name`}},
		{[]string{"create"}, []string{"a request needs a title"}},
		{[]string{"create", "--title", "x", "--payload", "[1,2]"}, []string{"payload: must be a JSON object"}},
		{[]string{"create", "--title", "x", "--deadline", "tomorrow"}, []string{`deadline "tomorrow" is neither an RFC 3339 time`}},
		{[]string{"create", "--title", strings.Repeat("x", 201)}, []string{"error: 422 validation_failed:", "title: must be at most 200 characters"}},
		{[]string{"get", "0190a5f0-0000-7000-8000-000000000000"}, []string{"error: 404 not_found: approval request not found"}},
		{[]string{"list", "--awaiting-me", "--status", "pending"}, []string{"if any flags in the group [awaiting-me status] are set none of the others can be"}},
	}
	for _, c := range cases {
		r := p.requester.run(c.args...)
		if r.code != 1 || r.stdout != "" {
			t.Errorf("approvalctl %v: want exit 1 and no output; got %s", c.args, r)
			continue
		}
		for _, want := range c.stderr {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("approvalctl %v: stderr lacks %q:\n%s", c.args, want, r.stderr)
			}
		}
	}
	// JSON output of an error is still an error on stderr, never half a document.
	r := p.requester.run("get", "nope", "-o", "json")
	if r.code != 1 || r.stdout != "" || json.Valid([]byte(r.stderr)) {
		t.Fatalf("get -o json of a missing request: %s", r)
	}
}
