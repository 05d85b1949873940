package client_test

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"approvald/client"
	"approvald/client/clienttest"
)

func TestServiceRules_CreateEditRotateDelete(t *testing.T) {
	t.Parallel()
	a, ctx := setup(t), testContext(t)
	name := clienttest.UniqueName("payments")

	rule, err := a.admin.CreateServiceRule(ctx, client.CreateServiceRuleRequest{Name: name, URL: "http://127.0.0.1:9/hook", Timeout: "5s"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(rule.Secret, "whsec_") || rule.Format != "standard" || rule.Timeout != "5s" {
		t.Fatalf("created %+v", rule)
	}
	got, err := a.admin.ServiceRule(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if got.Secret != "" || got.URL != "http://127.0.0.1:9/hook" {
		t.Fatalf("read back %+v: the secret must not be shown again", got)
	}

	url, attempts := "http://127.0.0.1:9/v2", 3
	edited, err := a.admin.EditServiceRule(ctx, name, client.ServiceRulePatch{URL: &url, MaxAttempts: &attempts, RotateSecret: true})
	if err != nil {
		t.Fatal(err)
	}
	if edited.URL != url || edited.MaxAttempts != 3 || !strings.HasPrefix(edited.Secret, "whsec_") || edited.Secret == rule.Secret {
		t.Fatalf("edited %+v", edited)
	}

	rules, err := a.admin.ServiceRules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(rules, func(r *client.ServiceRule) bool { return r.Name == name }) {
		t.Fatalf("list lacks %s", name)
	}
	if err := a.admin.DeleteServiceRule(ctx, name); err != nil {
		t.Fatal(err)
	}
	if _, err := a.admin.ServiceRule(ctx, name); !client.IsNotFound(err) {
		t.Fatalf("read after delete: %v", err)
	}
	if _, err := a.requester.ServiceRules(ctx); !client.HasCode(err, client.CodeMissingScope) {
		t.Fatalf("list as a requester: %v", err)
	}
}

func TestServiceRules_HeaderValuesAreWriteOnlyAndKeptOnEdit(t *testing.T) {
	t.Parallel()
	a, ctx := setup(t), testContext(t)
	name := clienttest.UniqueName("receiver")
	rule, err := a.admin.CreateServiceRule(ctx, client.CreateServiceRuleRequest{Name: name, URL: "http://127.0.0.1:9/hook",
		Headers: map[string]string{"X-Api-Key": "receiver-credential-0123", "X-Team": "payments"}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]client.RuleHeader{"X-Api-Key": {HasValue: true}, "X-Team": {HasValue: true}}
	if !maps.Equal(rule.Headers, want) || strings.Contains(string(rule.Raw()), "receiver-credential") {
		t.Fatalf("created headers %v: %s", rule.Headers, rule.Raw())
	}
	edited, err := a.admin.EditServiceRule(ctx, name, client.ServiceRulePatch{Headers: map[string]string{"X-Env": "prod"}, KeepHeaders: []string{"X-Api-Key"}})
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]client.RuleHeader{"X-Api-Key": {HasValue: true}, "X-Env": {HasValue: true}}
	if !maps.Equal(edited.Headers, want) {
		t.Fatalf("edited headers %v, want %v", edited.Headers, want)
	}
	if _, err := a.admin.EditServiceRule(ctx, name, client.ServiceRulePatch{KeepHeaders: []string{"X-Team"}}); !client.HasCode(err, client.CodeValidationFailed) {
		t.Fatalf("keeping a header the rule no longer has: %v", err)
	}
}

func TestPolicies_CreateReplaceIfMatchDelete(t *testing.T) {
	t.Parallel()
	a, ctx := setup(t), testContext(t)
	name := clienttest.UniqueName("two-owners")
	pol := client.Policy{Rules: []client.Rule{{Name: "owners", MinApprovals: 2, Groups: []string{"owners"}}}}

	created, err := a.admin.CreatePolicy(ctx, client.PolicyRequest{Name: name, Description: "two owners", Policy: pol})
	if err != nil {
		t.Fatal(err)
	}
	if created.Version != 1 || created.Policy.Rules[0].MinApprovals != 2 {
		t.Fatalf("created %+v", created)
	}
	pol.Rules[0].MinApprovals = 1
	replaced, err := a.admin.ReplacePolicy(ctx, name, client.PolicyRequest{Description: "one owner", Policy: pol}, client.IfMatch(1))
	if err != nil {
		t.Fatal(err)
	}
	if replaced.Version != 2 || replaced.Description != "one owner" {
		t.Fatalf("replaced %+v", replaced)
	}
	if _, err := a.admin.ReplacePolicy(ctx, name, client.PolicyRequest{Policy: pol}, client.IfMatch(1)); !client.HasCode(err, client.CodeVersionMismatch) {
		t.Fatalf("replace with a stale If-Match: %v", err)
	}

	// Readers may read stored policies and make requests with them.
	got, err := a.requester.Policy(ctx, name)
	if err != nil || got.Version != 2 {
		t.Fatalf("read: %+v %v", got, err)
	}
	all, err := a.requester.Policies(ctx)
	if err != nil || !slices.ContainsFunc(all, func(p *client.StoredPolicy) bool { return p.Name == name }) {
		t.Fatalf("list: %v", err)
	}
	req, err := a.requester.Create(ctx, client.CreateRequest{Title: "With policy", PolicyName: name})
	if err != nil {
		t.Fatal(err)
	}
	if req.PolicySource != "policy:"+name {
		t.Fatalf("policy_source %q", req.PolicySource)
	}
	if err := a.admin.DeletePolicy(ctx, name); err != nil {
		t.Fatal(err)
	}
	if _, err := a.admin.Policy(ctx, name); !client.IsNotFound(err) {
		t.Fatalf("read after delete: %v", err)
	}
}

func TestAPIKeys_CreateRotateRevoke(t *testing.T) {
	t.Parallel()
	a, ctx := setup(t), testContext(t)
	expires := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)
	key, err := a.admin.CreateAPIKey(ctx, client.CreateAPIKeyRequest{
		Name: clienttest.UniqueName("ci"), Scopes: []string{"approvals:read"}, Groups: []string{"release"}, ExpiresAt: &expires,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key.Key, "apd_") || key.ExpiresAt == nil || !key.ExpiresAt.Equal(expires) || key.Groups[0] != "release" {
		t.Fatalf("created %+v", key)
	}
	ci := newClient(t, shared.URL, key.Key)
	if _, err := ci.Policies(ctx); err != nil {
		t.Fatalf("the new key does not work: %v", err)
	}

	rotated, err := a.admin.RotateAPIKey(ctx, key.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.ID != key.ID || rotated.Key == key.Key || !strings.HasPrefix(rotated.Key, "apd_") {
		t.Fatalf("rotated %+v", rotated)
	}
	if _, err := ci.Policies(ctx); !client.HasCode(err, client.CodeUnauthenticated) {
		t.Fatalf("the old secret after rotation: %v", err)
	}

	keys, err := a.admin.APIKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(keys, func(k *client.APIKey) bool { return k.ID == key.ID && k.Key == "" }) {
		t.Fatal("the list lacks the key, or shows its secret")
	}
	if err := a.admin.RevokeAPIKey(ctx, key.ID); err != nil {
		t.Fatal(err)
	}
	rc := newClient(t, shared.URL, rotated.Key)
	if _, err := rc.Policies(ctx); !client.IsUnauthorized(err) {
		t.Fatalf("a revoked key: %v", err)
	}
}

func TestOps_HealthReadinessDocumentMetricsGatewayCalls(t *testing.T) {
	t.Parallel()
	a, ctx := setup(t), testContext(t)
	anon := newClient(t, shared.URL, "")
	if err := anon.Health(ctx); err != nil {
		t.Fatal(err)
	}
	if err := anon.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	doc, err := anon.OpenAPI(ctx)
	if err != nil || !strings.Contains(string(doc), `"openapi"`) {
		t.Fatalf("OpenAPI: %v", err)
	}
	m, err := a.admin.Metrics(ctx)
	if err != nil || !strings.Contains(m, "go_goroutines") {
		t.Fatalf("Metrics: %v", err)
	}
	page, err := a.admin.GatewayCalls(ctx, client.GatewayCallOptions{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if page.Items == nil || page.NextCursor != "" {
		t.Fatalf("gateway calls %+v", page)
	}
}
