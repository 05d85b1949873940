package client_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"approvald/client"
	"approvald/client/clienttest"
)

func TestChannels_CreateReplaceDeleteNeverReturnTheWebhook(t *testing.T) {
	t.Parallel()
	a, ctx := setup(t), testContext(t)
	name := clienttest.UniqueName("chat")
	const hook = "https://hooks.slack.com/services/T1/B2/client-secret-path"

	ch, err := a.admin.CreateChannel(ctx, client.ChannelRequest{Name: name, Type: "slack", URL: hook})
	if err != nil {
		t.Fatal(err)
	}
	if ch.URL != "https://hooks.slack.com/…" || ch.Version != 1 {
		t.Fatalf("created %+v", ch)
	}
	// Replaced without a URL: the webhook stays (the server would refuse a
	// slack channel without one).
	replaced, err := a.admin.ReplaceChannel(ctx, name, client.ChannelRequest{Type: "slack"}, client.IfMatch(1))
	if err != nil {
		t.Fatal(err)
	}
	if replaced.Version != 2 || replaced.URL != ch.URL {
		t.Fatalf("replaced %+v", replaced)
	}
	if _, err := a.admin.ReplaceChannel(ctx, name, client.ChannelRequest{Type: "slack"}, client.IfMatch(1)); !client.HasCode(err, client.CodeVersionMismatch) {
		t.Fatalf("replace at a stale version: %v", err)
	}
	got, err := a.admin.Channel(ctx, name)
	if err != nil || got.Version != 2 {
		t.Fatalf("read back %+v %v", got, err)
	}
	list, err := a.admin.Channels(ctx)
	if err != nil || !slices.ContainsFunc(list, func(c *client.NotificationChannel) bool { return c.Name == name }) {
		t.Fatalf("list %v %v", list, err)
	}
	for _, c := range list {
		if strings.Contains(c.URL, "client-secret-path") {
			t.Fatalf("the list shows a webhook: %+v", c)
		}
	}
	if _, err := a.admin.CreateChannel(ctx, client.ChannelRequest{Name: clienttest.UniqueName("meta"), Type: "teams", URL: "http://169.254.169.254/x"}); !client.HasCode(err, client.CodeValidationFailed) {
		t.Fatalf("a metadata address: %v", err)
	}
	if _, err := a.reviewer.CreateChannel(ctx, client.ChannelRequest{Name: clienttest.UniqueName("x"), Type: "slack", URL: hook}); !client.HasCode(err, client.CodeMissingScope) {
		t.Fatalf("a reviewer creating a channel: %v", err)
	}

	mail := clienttest.UniqueName("mail")
	m, err := a.admin.CreateChannel(ctx, client.ChannelRequest{Name: mail, Type: "email", Email: &client.EmailSettings{
		Host: "smtp.example.com", From: "approvald@example.com", Username: "approvald", PasswordEnv: "SMTP_PASSWORD"}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Email == nil || m.Email.PasswordEnv != "SMTP_PASSWORD" || m.Email.Port != 587 || m.Email.TLS != "starttls" {
		t.Fatalf("email channel %+v", m.Email)
	}

	// Routes and contacts name channels.
	rt, err := a.admin.CreateRoute(ctx, client.RouteRequest{Channel: name, Events: []client.NotifyKind{"decision"}, Scope: "group:" + name})
	if err != nil {
		t.Fatal(err)
	}
	routes, err := a.admin.Routes(ctx)
	if err != nil || !slices.ContainsFunc(routes, func(r *client.NotificationRoute) bool { return r.ID == rt.ID && r.Scope == "group:"+name }) {
		t.Fatalf("routes %v %v", routes, err)
	}
	if err := a.admin.DeleteChannel(ctx, name); !client.HasCode(err, client.CodeConflict) {
		t.Fatalf("deleting a routed channel: %v", err)
	}
	if err := a.admin.DeleteRoute(ctx, rt.ID); err != nil {
		t.Fatal(err)
	}
	if err := a.admin.DeleteRoute(ctx, rt.ID); !client.IsNotFound(err) {
		t.Fatalf("deleting it again: %v", err)
	}
	for _, n := range []string{name, mail} {
		if err := a.admin.DeleteChannel(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.admin.Channel(ctx, name); !client.IsNotFound(err) {
		t.Fatalf("read after delete: %v", err)
	}
}

func TestContacts_SetListDeleteAndAnAPIKeysContact(t *testing.T) {
	t.Parallel()
	a, ctx := setup(t), testContext(t)
	person := "user:" + clienttest.UniqueName("alice")
	c, err := a.admin.SetContact(ctx, client.ContactRequest{Principal: person, Email: "alice@example.com", Admin: true})
	if err != nil || c.Source != "admin" || !c.Admin {
		t.Fatalf("set %+v %v", c, err)
	}
	group := clienttest.UniqueName("finance-team")
	if _, err := a.admin.SetContact(ctx, client.ContactRequest{Group: group, Emails: []string{"f1@example.com", "f2@example.com"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.admin.SetContact(ctx, client.ContactRequest{Principal: person, Email: "nope"}); !client.HasCode(err, client.CodeValidationFailed) {
		t.Fatalf("an invalid address: %v", err)
	}
	keyName := clienttest.UniqueName("ci")
	if _, err := a.admin.CreateAPIKey(ctx, client.CreateAPIKeyRequest{Name: keyName, Scopes: []string{"approvals:create"}, Contact: "ci@example.com"}); err != nil {
		t.Fatal(err)
	}
	list, err := a.admin.Contacts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]*client.Contact{}
	for _, c := range list {
		keys[c.Key()] = c
	}
	if keys[person] == nil || keys["group:"+group] == nil || len(keys["group:"+group].Emails) != 2 {
		t.Fatalf("contacts %v", keys)
	}
	if k := keys["svc:"+keyName]; k == nil || k.Email != "ci@example.com" || k.Source != "api_key" {
		t.Fatalf("the key's contact: %+v", k)
	}
	for _, key := range []string{person, "group:" + group} {
		if err := a.admin.DeleteContact(ctx, key); err != nil {
			t.Fatalf("delete %s: %v", key, err)
		}
	}
	if _, err := a.reviewer.Contacts(ctx); !client.HasCode(err, client.CodeMissingScope) {
		t.Fatalf("a reviewer listing contacts: %v", err)
	}
}

func TestDelegations_ReviewOnBehalfOfAndRevoke(t *testing.T) {
	t.Parallel()
	a, ctx := setup(t), testContext(t)
	delegatorKey := shared.NewKey(t, "away", "approvals:review", "approvals:read")
	delegator := newClient(t, shared.URL, delegatorKey.Secret)
	delegateKey := shared.NewKey(t, "standin", "approvals:review", "approvals:read")
	delegate := newClient(t, shared.URL, delegateKey.Secret)

	d, err := delegator.CreateDelegation(ctx, client.DelegationRequest{Delegate: delegateKey.Principal(), EndsAt: time.Now().Add(time.Hour), Reason: "holiday"})
	if err != nil {
		t.Fatal(err)
	}
	if d.Delegator != delegatorKey.Principal() || d.Reason != "holiday" {
		t.Fatalf("created %+v", d)
	}
	got, err := delegate.Delegation(ctx, d.ID)
	if err != nil || got.ID != d.ID {
		t.Fatalf("the delegate reading it: %+v %v", got, err)
	}
	mine, err := delegator.Delegations(ctx, client.DelegationOptions{Active: true})
	if err != nil || len(mine) != 1 || mine[0].ID != d.ID {
		t.Fatalf("the delegator's active ones: %v %v", mine, err)
	}
	if _, err := a.requester.Delegation(ctx, d.ID); !client.IsNotFound(err) {
		t.Fatalf("a stranger reading it: %v", err)
	}

	policyName := clienttest.UniqueName("delegator-only")
	if _, err := a.admin.CreatePolicy(ctx, client.PolicyRequest{Name: policyName, Policy: client.Policy{
		Rules: []client.Rule{{MinApprovals: 1, Principals: []string{delegatorKey.Principal()}}}}}); err != nil {
		t.Fatal(err)
	}
	r, err := a.requester.Create(ctx, client.CreateRequest{Title: "needs the delegator", Payload: []byte(`{"n":1}`), PolicyName: policyName})
	if err != nil {
		t.Fatal(err)
	}
	decided, err := delegate.Review(ctx, r.ID, client.ReviewRequest{Decision: client.Approve, OnBehalfOf: delegatorKey.Principal()})
	if err != nil {
		t.Fatal(err)
	}
	if decided.Status != client.StatusApproved || decided.Reviews[0].Reviewer != delegatorKey.Principal() || decided.Reviews[0].By != delegateKey.Principal() {
		t.Fatalf("reviewed for the delegator: %s %+v", decided.Status, decided.Reviews)
	}

	revoked, err := delegator.RevokeDelegation(ctx, d.ID)
	if err != nil || revoked.RevokedAt == nil {
		t.Fatalf("revoked %+v %v", revoked, err)
	}
	r2, err := a.requester.Create(ctx, client.CreateRequest{Title: "after the revocation", Payload: []byte(`{"n":2}`), PolicyName: policyName})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := delegate.Review(ctx, r2.ID, client.ReviewRequest{Decision: client.Approve, OnBehalfOf: delegatorKey.Principal()}); err == nil {
		t.Fatal("a review under a revoked delegation was taken")
	}
}

func TestPreferencesAndNotifications(t *testing.T) {
	t.Parallel()
	a, ctx := setup(t), testContext(t)
	p, err := a.reviewer.SetNotificationPreferences(ctx, []client.NotifyKind{"reminder"})
	if err != nil || len(p.Muted) != 1 || p.Muted[0] != "reminder" {
		t.Fatalf("set %+v %v", p, err)
	}
	p, err = a.reviewer.NotificationPreferences(ctx)
	if err != nil || len(p.Muted) != 1 {
		t.Fatalf("read back %+v %v", p, err)
	}
	if p, err = a.reviewer.SetNotificationPreferences(ctx, nil); err != nil || len(p.Muted) != 0 {
		t.Fatalf("cleared %+v %v", p, err)
	}
	page, err := a.admin.Notifications(ctx, client.NotificationOptions{State: "failed", Limit: 5})
	if err != nil || page.Items == nil {
		t.Fatalf("notifications %+v %v", page, err)
	}
	if _, err := a.admin.Notifications(ctx, client.NotificationOptions{State: "lost"}); !client.HasCode(err, client.CodeValidationFailed) {
		t.Fatalf("an unknown state: %v", err)
	}
	if _, err := a.requester.Notifications(ctx, client.NotificationOptions{}); !client.HasCode(err, client.CodeMissingScope) {
		t.Fatalf("a requester listing notifications: %v", err)
	}
}
