package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"approvald/client/clienttest"
)

func TestCLI_RulesCreateShowEditRotateDelete(t *testing.T) {
	t.Parallel()
	p := setup(t)
	name := clienttest.UniqueName("deploys")

	created := p.admin.ok("rules", "create", name, "--url", "http://127.0.0.1:9/hook", "--delivery-timeout", "5s",
		"--header", "X-Team=payments", "--header", "X-Api-Key=receiver-credential-0123")
	if !strings.Contains(created.stdout, "Signing secret (shown only now") || !strings.Contains(created.stdout, "whsec_") {
		t.Fatalf("create does not show the secret once:\n%s", created.stdout)
	}
	if !strings.Contains(created.stdout, "Headers (values are never shown): X-Api-Key, X-Team") || strings.Contains(created.stdout, "receiver-credential") {
		t.Fatalf("create does not show the header names alone:\n%s", created.stdout)
	}
	type header struct {
		HasValue bool `json:"has_value"`
	}
	var rule struct {
		Name        string            `json:"name"`
		URL         string            `json:"url"`
		Timeout     string            `json:"timeout"`
		MaxAttempts int               `json:"max_attempts"`
		Headers     map[string]header `json:"headers"`
		Secret      string            `json:"secret"`
	}
	p.admin.okJSON(&rule, "rules", "get", name)
	if rule.URL != "http://127.0.0.1:9/hook" || rule.Timeout != "5s" || !rule.Headers["X-Team"].HasValue || rule.Secret != "" {
		t.Fatalf("get %+v", rule)
	}
	p.admin.okJSON(&rule, "rules", "edit", name, "--max-attempts", "3", "--rotate-secret")
	if rule.MaxAttempts != 3 || !strings.HasPrefix(rule.Secret, "whsec_") || len(rule.Headers) != 2 {
		t.Fatalf("edit %+v", rule)
	}
	rule.Headers = nil
	p.admin.okJSON(&rule, "rules", "edit", name, "--header", "X-Api-Key", "--header", "X-Env=prod")
	if len(rule.Headers) != 2 || !rule.Headers["X-Api-Key"].HasValue || !rule.Headers["X-Env"].HasValue {
		t.Fatalf("edit keeping X-Api-Key and setting X-Env: %+v", rule)
	}
	if r := p.admin.run("rules", "create", name+"-2", "--url", "http://127.0.0.1:9/hook", "--header", "X-Api-Key"); r.code == 0 || !strings.Contains(r.stderr, "is not Name=value") {
		t.Fatalf("create with a header without a value: %s", r)
	}
	if list := p.admin.ok("rules", "list").stdout; !strings.Contains(list, name) || !strings.HasPrefix(list, "NAME ") {
		t.Fatalf("list:\n%s", list)
	}
	if names := p.admin.ok("rules", "list", "-o", "name").stdout; !strings.Contains(names, name+"\n") {
		t.Fatalf("list -o name:\n%s", names)
	}
	if r := p.admin.ok("rules", "delete", name); r.stdout != "service rule "+name+" deleted\n" {
		t.Fatalf("delete: %s", r)
	}
	if r := p.admin.run("rules", "get", name); r.code != 1 || !strings.Contains(r.stderr, "404 not_found") {
		t.Fatalf("get after delete: %s", r)
	}
	if r := p.requester.run("rules", "list"); r.code != 1 || !strings.Contains(r.stderr, "403 missing_scope") {
		t.Fatalf("list as a requester: %s", r)
	}
}

func TestCLI_PoliciesFromYAMLReplaceWithIfMatchAndUse(t *testing.T) {
	t.Parallel()
	p := setup(t)
	name := clienttest.UniqueName("large-payment")
	dir := t.TempDir()
	v1 := filepath.Join(dir, "v1.yaml")
	if err := os.WriteFile(v1, []byte("rules:\n  - {name: finance, min_approvals: 1, groups: [finance]}\n  - {name: cfo, min_approvals: 1, principals: [\"user:cfo\"]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := p.admin.ok("policies", "create", name, "-f", v1, "--description", "finance and the CFO").stdout
	for _, want := range []string{name, "finance and the CFO", "cfo", "user:cfo"} {
		if !strings.Contains(out, want) {
			t.Errorf("create output lacks %q:\n%s", want, out)
		}
	}
	v2 := filepath.Join(dir, "v2.json")
	if err := os.WriteFile(v2, []byte(`{"description":"finance only","policy":{"rules":[{"name":"finance","min_approvals":2,"groups":["finance"]}]}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var pol struct {
		Version     int    `json:"version"`
		Description string `json:"description"`
	}
	p.admin.okJSON(&pol, "policies", "replace", name, "-f", v2, "--if-match", "1")
	if pol.Version != 2 || pol.Description != "finance only" {
		t.Fatalf("replaced %+v", pol)
	}
	if r := p.admin.run("policies", "replace", name, "-f", v2, "--if-match", "1"); r.code != 1 || !strings.Contains(r.stderr, "412 version_mismatch") {
		t.Fatalf("stale replace: %s", r)
	}
	// Anyone may read policies and ask for them by name.
	p.requester.ok("policies", "get", name)
	var req struct {
		PolicySource string `json:"policy_source"`
	}
	p.requester.okJSON(&req, "create", "--title", "big", "--policy-name", name)
	if req.PolicySource != "policy:"+name {
		t.Fatalf("policy_source %q", req.PolicySource)
	}
	if !strings.Contains(p.requester.ok("policies", "list").stdout, name) {
		t.Fatal("list lacks the policy")
	}
	p.admin.ok("policies", "delete", name)
	if r := p.admin.run("policies", "create", name); r.code != 1 || !strings.Contains(r.stderr, `required flag(s) "filename" not set`) {
		t.Fatalf("create without -f: %s", r)
	}
}

func TestCLI_KeysCreateUseRotateRevoke(t *testing.T) {
	t.Parallel()
	p := setup(t)
	name := clienttest.UniqueName("ci")
	var key struct {
		ID     string   `json:"id"`
		Key    string   `json:"key"`
		Scopes []string `json:"scopes"`
		Groups []string `json:"groups"`
	}
	p.admin.okJSON(&key, "keys", "create", name, "--scope", "approvals:create,approvals:read", "--group", "release", "--expires", "720h")
	if !strings.HasPrefix(key.Key, "apd_") || len(key.Scopes) != 2 || key.Groups[0] != "release" {
		t.Fatalf("created %+v", key)
	}
	ci := newCtl(t, key.Key)
	var r request
	ci.okJSON(&r, "create", "--title", "from the new key")
	if r.Requester != "svc:"+name {
		t.Fatalf("requester %q", r.Requester)
	}

	table := p.admin.ok("keys", "rotate", key.ID).stdout
	if !strings.Contains(table, "Key (shown only now; its principal is svc:"+name+"): apd_") {
		t.Fatalf("rotate:\n%s", table)
	}
	if res := ci.run("list"); res.code != 1 || !strings.Contains(res.stderr, "401 unauthenticated") || !strings.Contains(res.stderr, "hint: check --token") {
		t.Fatalf("the old secret after rotation: %s", res)
	}
	list := p.admin.ok("keys", "list").stdout
	if !strings.Contains(list, key.ID) || strings.Contains(list, "apd_"+key.Key[4:]) {
		t.Fatalf("list lacks the key or shows a secret:\n%s", list)
	}
	p.admin.ok("keys", "revoke", key.ID)
	if !strings.Contains(p.admin.ok("keys", "list").stdout, "revoked") {
		t.Fatal("the key is not shown as revoked")
	}
	if res := p.admin.run("keys", "create", "nokeys"); res.code != 1 || !strings.Contains(res.stderr, "at least one --scope") {
		t.Fatalf("create without scopes: %s", res)
	}
}

func TestCLI_RedeliverIsAdminOnly(t *testing.T) {
	t.Parallel()
	p := setup(t)
	id := p.create("--title", "no rule")
	if r := p.requester.run("redeliver", id); r.code != 1 || !strings.Contains(r.stderr, "403 missing_scope") {
		t.Fatalf("redeliver as the requester: %s", r)
	}
	if r := p.admin.run("redeliver", id); r.code != 1 || !strings.Contains(r.stderr, "409 invalid_transition") {
		t.Fatalf("redeliver of a pending request: %s", r)
	}
}
