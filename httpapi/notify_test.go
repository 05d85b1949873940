package httpapi

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"approvald/approval"
)

// The secrets the notification tests send and that no response may show.
const (
	slackURL     = "https://hooks.slack.com/services/T0001/B0002/sEcReTwEbHoOkPaTh"
	slackSecret  = "T0001/B0002/sEcReTwEbHoOkPaTh"
	teamsURL     = "https://example.webhook.office.com/workflows/aBcSeCrEtTeAmSpAtH"
	teamsSecret  = "aBcSeCrEtTeAmSpAtH"
	smtpPassword = "hunter2-SmTp-PaSsWoRd"
)

// channel is a notification channel as the tests read it.
type channel struct {
	Name    string                  `json:"name"`
	Type    string                  `json:"type"`
	URL     string                  `json:"url"`
	Email   *approval.EmailSettings `json:"email"`
	Version int64                   `json:"version"`
}

// fieldsOf returns the fields a 422 problem names.
func fieldsOf(t *testing.T, r response) []string {
	t.Helper()
	if r.status != 422 {
		t.Fatalf("status %d, want 422: %s", r.status, r.body)
	}
	var out []string
	for _, e := range r.problem(t).Errors {
		out = append(out, e.Field)
	}
	return out
}

// wantFields fails unless the 422 problem r names every field of want.
func wantFields(t *testing.T, what string, r response, want ...string) {
	t.Helper()
	got := fieldsOf(t, r)
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			t.Errorf("%s: the problem names %v, not %q: %s", what, got, w, r.body)
		}
	}
}

// storedChannel reads a channel from the engine, URL included.
func (f *fixture) storedChannel(name string) *approval.NotificationChannel {
	f.t.Helper()
	c, err := f.eng.Channel(context.Background(), approval.Principal{ID: "svc:test", Scopes: []approval.Scope{approval.ScopeAdmin}}, name)
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

func TestChannels_CRUDShowsNeitherWebhookURLsNorPasswords(t *testing.T) {
	f := setup(t)
	audit := f.key("auditor", approval.ScopeAudit)

	var slack channel
	res := f.admin.json(201, "POST", "/v1/notification-channels", map[string]any{"name": "team-chat", "type": "slack", "url": slackURL}, &slack)
	if slack.URL != "https://hooks.slack.com/…" || slack.Version != 1 || slack.Type != "slack" {
		t.Fatalf("created: %+v", slack)
	}
	if res.header.Get("ETag") != `"1"` || res.header.Get("Location") != "/v1/notification-channels/team-chat" {
		t.Fatalf("headers: %v", res.header)
	}
	f.admin.json(201, "POST", "/v1/notification-channels", map[string]any{"name": "teams", "type": "teams", "url": teamsURL}, nil)
	var mail channel
	f.admin.json(201, "POST", "/v1/notification-channels", map[string]any{"name": "mail", "type": "email", "email": map[string]any{
		"host": "smtp.example.com", "tls": "starttls", "from": "Approvals <approvald@example.com>", "username": "approvald", "password_file": "/run/secrets/smtp",
	}}, &mail)
	if mail.Email == nil || mail.Email.PasswordFile != "/run/secrets/smtp" || mail.Email.Port != 587 || mail.URL != "" {
		t.Fatalf("email channel: %+v %+v", mail, mail.Email)
	}
	// A password is never taken: the field does not exist.
	p := f.admin.raw("POST", "/v1/notification-channels", []byte(`{"name":"mail2","type":"email","email":{"host":"smtp.example.com","from":"a@example.com","username":"u","password":"`+smtpPassword+`"}}`))
	wantFields(t, "a password in the body", p, "password")
	if p := f.admin.raw("POST", "/v1/notification-channels", []byte(`{"name":"team-chat","type":"slack","url":"`+slackURL+`"}`)); p.status != 409 || p.problem(t).Code != approval.CodeConflict {
		t.Fatalf("a second channel of the name: %d %s", p.status, p.body)
	}

	for _, c := range []apiClient{f.admin, audit} {
		var page struct{ Items []channel }
		c.json(200, "GET", "/v1/notification-channels", nil, &page)
		if len(page.Items) != 3 || page.Items[0].Name != "mail" || page.Items[1].URL != "https://hooks.slack.com/…" {
			t.Fatalf("list: %+v", page.Items)
		}
		var one channel
		c.json(200, "GET", "/v1/notification-channels/teams", nil, &one)
		if one.URL != "https://example.webhook.office.com/…" {
			t.Fatalf("get teams: %+v", one)
		}
	}

	// A PUT without url, or with the redacted url read back, keeps the webhook.
	var put channel
	f.admin.json(200, "PUT", "/v1/notification-channels/team-chat", map[string]any{"type": "slack"}, &put, "If-Match", `"1"`)
	if put.Version != 2 || f.storedChannel("team-chat").URL != slackURL {
		t.Fatalf("PUT without url: %+v, stored %q", put, f.storedChannel("team-chat").URL)
	}
	f.admin.json(200, "PUT", "/v1/notification-channels/team-chat", map[string]any{"name": "team-chat", "type": "slack", "url": put.URL}, &put)
	if got := f.storedChannel("team-chat").URL; put.Version != 3 || got != slackURL {
		t.Fatalf("PUT with the redacted url: %+v, stored %q", put, got)
	}
	f.admin.json(200, "PUT", "/v1/notification-channels/team-chat", map[string]any{"type": "slack", "url": slackURL + "-rotated"}, &put)
	if got := f.storedChannel("team-chat").URL; got != slackURL+"-rotated" {
		t.Fatalf("PUT with a new url: stored %q", got)
	}
	if p := f.admin.raw("PUT", "/v1/notification-channels/team-chat", []byte(`{"type":"slack"}`), "If-Match", `"1"`); p.status != 412 || p.problem(t).Code != approval.CodeVersionMismatch {
		t.Fatalf("PUT at a stale version: %d %s", p.status, p.body)
	}
	wantFields(t, "PUT renaming", f.admin.raw("PUT", "/v1/notification-channels/team-chat", []byte(`{"name":"other","type":"slack"}`)), "name")
	wantFields(t, "PUT to email without settings", f.admin.raw("PUT", "/v1/notification-channels/team-chat", []byte(`{"type":"email"}`)), "email")
	if p := f.admin.raw("PUT", "/v1/notification-channels/nothing", []byte(`{"type":"slack","url":"`+slackURL+`"}`)); p.status != 404 {
		t.Fatalf("PUT of no channel: %d %s", p.status, p.body)
	}

	f.admin.json(204, "DELETE", "/v1/notification-channels/teams", nil, nil)
	if p := audit.raw("GET", "/v1/notification-channels/teams", nil); p.status != 404 {
		t.Fatalf("GET after delete: %d", p.status)
	}
	if p := f.admin.raw("DELETE", "/v1/notification-channels/teams", nil); p.status != 404 {
		t.Fatalf("second DELETE: %d", p.status)
	}

	for _, r := range f.responses() {
		for _, secret := range []string{slackSecret, teamsSecret, smtpPassword, "-rotated"} {
			if strings.Contains(r, secret) {
				t.Errorf("a response shows the secret %q: %.300s", secret, r)
			}
		}
	}
}

func TestChannels_InvalidSettingsAre422NamingTheField(t *testing.T) {
	f := setup(t)
	for _, tc := range []struct {
		name   string
		body   string
		fields []string
	}{
		{"metadata url", `{"name":"x","type":"slack","url":"http://169.254.169.254/latest/meta-data"}`, []string{"url"}},
		{"metadata smtp host", `{"name":"x","type":"email","email":{"host":"169.254.169.254","from":"a@example.com"}}`, []string{"email.host"}},
		{"metadata host name", `{"name":"x","type":"teams","url":"http://metadata.google.internal/x"}`, []string{"url"}},
		{"no url", `{"name":"x","type":"teams"}`, []string{"url"}},
		{"unknown type", `{"name":"x","type":"pager"}`, []string{"type"}},
		{"bad name", `{"name":"-x","type":"slack","url":"https://hooks.slack.com/x"}`, []string{"name"}},
		{"email with a url", `{"name":"x","type":"email","url":"https://a.example","email":{"host":"smtp.example.com","from":"a@example.com"}}`, []string{"url"}},
		{"bad from and tls", `{"name":"x","type":"email","email":{"host":"smtp.example.com","from":"nobody","tls":"ssl"}}`, []string{"email.from", "email.tls"}},
		{"password without a user", `{"name":"x","type":"email","email":{"host":"smtp.example.com","from":"a@example.com","password_env":"SMTP_PASSWORD"}}`, []string{"email.username"}},
		{"a url of the wrong type", `{"name":"x","type":"slack","url":42}`, []string{"url"}},
	} {
		p := f.admin.raw("POST", "/v1/notification-channels", []byte(tc.body))
		wantFields(t, tc.name, p, tc.fields...)
		if strings.Contains(string(p.body), "meta-data") {
			t.Errorf("%s: the problem repeats the URL: %s", tc.name, p.body)
		}
	}
	var page struct{ Items []channel }
	f.admin.json(200, "GET", "/v1/notification-channels", nil, &page)
	if len(page.Items) != 0 {
		t.Fatalf("refused channels were stored: %+v", page.Items)
	}
}

func TestNotificationAdmin_ScopesAdminChangesAuditReads(t *testing.T) {
	f := setup(t)
	reviewer, audit := f.key("reviewer", approval.ScopeReview), f.key("auditor", approval.ScopeAudit)
	creator := f.key("creator", approval.ScopeCreate, approval.ScopeRead)
	chat := []byte(`{"name":"chat","type":"slack","url":"` + slackURL + `"}`)
	for _, c := range []apiClient{reviewer, audit, creator} {
		for _, call := range []struct{ method, path, body string }{
			{"POST", "/v1/notification-channels", string(chat)},
			{"PUT", "/v1/notification-channels/chat", string(chat)},
			{"DELETE", "/v1/notification-channels/chat", ""},
			{"POST", "/v1/notification-routes", `{"channel":"chat"}`},
			{"DELETE", "/v1/notification-routes/1", ""},
			{"POST", "/v1/contacts", `{"principal":"user:a","email":"a@example.com"}`},
			{"DELETE", "/v1/contacts/user:a", ""},
		} {
			var body []byte
			if call.body != "" {
				body = []byte(call.body)
			}
			if p := c.raw(call.method, call.path, body); p.status != 403 || p.problem(t).Code != approval.CodeMissingScope {
				t.Errorf("%s %s without admin: %d %s", call.method, call.path, p.status, p.body)
			}
		}
	}
	if p := f.admin.raw("POST", "/v1/notification-channels", chat); p.status != 201 {
		t.Fatalf("admin creating: %d %s", p.status, p.body)
	}
	for _, path := range []string{"/v1/notification-channels", "/v1/notification-channels/chat", "/v1/notification-routes", "/v1/contacts", "/v1/notifications"} {
		audit.json(200, "GET", path, nil, nil)
		for _, c := range []apiClient{reviewer, creator} {
			if p := c.raw("GET", path, nil); p.status != 403 || p.problem(t).Code != approval.CodeMissingScope {
				t.Errorf("GET %s without admin or audit: %d %s", path, p.status, p.body)
			}
		}
	}
}

// routeView is a notification route as the tests read it.
type routeView struct {
	ID      int64    `json:"id"`
	Channel string   `json:"channel"`
	Events  []string `json:"events"`
	Scope   string   `json:"scope"`
}

func TestRoutes_CreateListDeleteAndTheChannelTheyName(t *testing.T) {
	f := setup(t)
	f.admin.json(201, "POST", "/v1/notification-channels", map[string]any{"name": "chat", "type": "slack", "url": slackURL}, nil)
	wantFields(t, "no such channel", f.admin.raw("POST", "/v1/notification-routes", []byte(`{"channel":"nothing"}`)), "channel")
	wantFields(t, "unknown kind", f.admin.raw("POST", "/v1/notification-routes", []byte(`{"channel":"chat","events":["decision","gossip"]}`)), "events[1]")
	wantFields(t, "kind twice", f.admin.raw("POST", "/v1/notification-routes", []byte(`{"channel":"chat","events":["decision","decision"]}`)), "events[1]")
	wantFields(t, "bad scope", f.admin.raw("POST", "/v1/notification-routes", []byte(`{"channel":"chat","scope":"team:x"}`)), "scope")

	var all, finance routeView
	res := f.admin.json(201, "POST", "/v1/notification-routes", map[string]any{"channel": "chat"}, &all)
	if all.ID < 1 || all.Scope != "all" || all.Events == nil || len(all.Events) != 0 {
		t.Fatalf("route with defaults: %+v", all)
	}
	if loc := res.header.Get("Location"); loc != "/v1/notification-routes/"+itoa(all.ID) {
		t.Fatalf("Location %q", loc)
	}
	f.admin.json(201, "POST", "/v1/notification-routes", map[string]any{"channel": "chat", "events": []string{"review_requested", "escalation"}, "scope": "group:finance"}, &finance)
	var page struct{ Items []routeView }
	f.admin.json(200, "GET", "/v1/notification-routes", nil, &page)
	if len(page.Items) != 2 || page.Items[1].Scope != "group:finance" || len(page.Items[1].Events) != 2 {
		t.Fatalf("list: %+v", page.Items)
	}
	if p := f.admin.raw("DELETE", "/v1/notification-channels/chat", nil); p.status != 409 || p.problem(t).Code != approval.CodeConflict {
		t.Fatalf("deleting a channel routes name: %d %s", p.status, p.body)
	}
	f.admin.json(204, "DELETE", "/v1/notification-routes/"+itoa(all.ID), nil, nil)
	for _, id := range []string{itoa(all.ID), "0", "abc", "99999"} {
		if p := f.admin.raw("DELETE", "/v1/notification-routes/"+id, nil); p.status != 404 {
			t.Errorf("DELETE route %s: %d %s", id, p.status, p.body)
		}
	}
	f.admin.json(204, "DELETE", "/v1/notification-routes/"+itoa(finance.ID), nil, nil)
	f.admin.json(204, "DELETE", "/v1/notification-channels/chat", nil, nil)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestContacts_SetListDelete(t *testing.T) {
	f := setup(t)
	audit := f.key("auditor", approval.ScopeAudit)
	f.admin.json(201, "POST", "/v1/notification-channels", map[string]any{"name": "finance-chat", "type": "teams", "url": teamsURL}, nil)
	var alice approval.Contact
	res := f.admin.json(200, "POST", "/v1/contacts", map[string]any{"principal": "user:alice", "email": "alice@example.com", "admin": true}, &alice)
	if alice.Source != approval.ContactAdmin || !alice.Admin || alice.Email != "alice@example.com" || res.header.Get("Location") != "/v1/contacts/user:alice" {
		t.Fatalf("alice: %+v %v", alice, res.header)
	}
	var group approval.Contact
	res = f.admin.json(200, "POST", "/v1/contacts", map[string]any{"group": "finance-team", "emails": []string{"a@example.com", "b@example.com"}, "channel": "finance-chat"}, &group)
	if group.Key() != "group:finance-team" || len(group.Emails) != 2 || res.header.Get("Location") != "/v1/contacts/group:finance-team" {
		t.Fatalf("group: %+v %v", group, res.header)
	}
	for name, tc := range map[string]struct {
		body   string
		fields []string
	}{
		"bad email":         {`{"principal":"user:bob","email":"not an address"}`, []string{"email"}},
		"display name":      {`{"principal":"user:bob","email":"Bob <bob@example.com>"}`, []string{"email"}},
		"both":              {`{"principal":"user:bob","group":"g","email":"bob@example.com"}`, []string{"principal"}},
		"group without any": {`{"group":"g"}`, []string{"emails"}},
		"bad member":        {`{"group":"g","emails":["ok@example.com","nope"]}`, []string{"emails[1]"}},
		"no such channel":   {`{"group":"g","channel":"nothing"}`, []string{"channel"}},
		"unknown field":     {`{"principal":"user:bob","email":"bob@example.com","source":"oidc"}`, []string{"source"}},
	} {
		wantFields(t, name, f.admin.raw("POST", "/v1/contacts", []byte(tc.body)), tc.fields...)
	}
	var page struct{ Items []approval.Contact }
	audit.json(200, "GET", "/v1/contacts", nil, &page)
	if len(page.Items) != 2 {
		t.Fatalf("contacts: %+v", page.Items)
	}
	f.admin.json(204, "DELETE", "/v1/contacts/"+url.PathEscape("group:finance-team"), nil, nil)
	f.admin.json(204, "DELETE", "/v1/contacts/user:alice", nil, nil)
	audit.json(200, "GET", "/v1/contacts", nil, &page)
	if len(page.Items) != 0 {
		t.Fatalf("contacts after deleting: %+v", page.Items)
	}
}

func TestAPIKeys_ContactIsRememberedAndAnInvalidOneCreatesNoKey(t *testing.T) {
	f := setup(t)
	wantFields(t, "invalid contact", f.admin.raw("POST", "/v1/api-keys", []byte(`{"name":"ci","scopes":["approvals:create"],"contact":"not-an-address"}`)), "contact")
	var keys struct{ Items []approval.APIKey }
	f.admin.json(200, "GET", "/v1/api-keys", nil, &keys)
	for _, k := range keys.Items {
		if k.Name == "ci" {
			t.Fatal("a key was created although its contact was refused")
		}
	}
	f.admin.json(201, "POST", "/v1/api-keys", map[string]any{"name": "ci", "scopes": []string{"approvals:create"}, "contact": "ci-team@example.com"}, nil)
	var page struct{ Items []approval.Contact }
	f.admin.json(200, "GET", "/v1/contacts", nil, &page)
	if len(page.Items) != 1 || page.Items[0].Principal != "svc:ci" || page.Items[0].Email != "ci-team@example.com" || page.Items[0].Source != approval.ContactAPIKey {
		t.Fatalf("contacts: %+v", page.Items)
	}
}

func TestPreferences_EachPrincipalMutesForItself(t *testing.T) {
	f := setup(t)
	a, b := f.key("a", approval.ScopeCreate), f.key("b", approval.ScopeRead)
	var prefs struct{ Muted []string }
	a.json(200, "GET", "/v1/me/notification-preferences", nil, &prefs)
	if prefs.Muted == nil || len(prefs.Muted) != 0 {
		t.Fatalf("before any: %#v", prefs.Muted)
	}
	a.json(200, "PUT", "/v1/me/notification-preferences", map[string]any{"muted": []string{"reminder", "decision", "reminder"}}, &prefs)
	if strings.Join(prefs.Muted, ",") != "decision,reminder" {
		t.Fatalf("set: %v", prefs.Muted)
	}
	a.json(200, "GET", "/v1/me/notification-preferences", nil, &prefs)
	if strings.Join(prefs.Muted, ",") != "decision,reminder" {
		t.Fatalf("read back: %v", prefs.Muted)
	}
	b.json(200, "GET", "/v1/me/notification-preferences", nil, &prefs)
	if len(prefs.Muted) != 0 {
		t.Fatalf("another principal's: %v", prefs.Muted)
	}
	wantFields(t, "unknown kind", a.raw("PUT", "/v1/me/notification-preferences", []byte(`{"muted":["gossip"]}`)), "muted")
	wantFields(t, "no muted", a.raw("PUT", "/v1/me/notification-preferences", []byte(`{}`)), "muted")
	if p := (apiClient{t: t, base: f.url}).raw("GET", "/v1/me/notification-preferences", nil); p.status != 401 {
		t.Fatalf("without a credential: %d", p.status)
	}
}

func TestNotifications_ListFiltersAndPages(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	now := f.clock.Now()
	r := f.admin.create("told")
	var ns []approval.Notification
	for i, who := range []string{"user:a", "user:b", "user:c"} {
		ns = append(ns, approval.Notification{
			Key: approval.NotificationKey(r.ID, 1, who, approval.NotifyReviewRequested), RequestID: r.ID, Version: 1,
			Kind: approval.NotifyReviewRequested, Recipient: who, Channel: "mail", Address: who[5:] + "@example.com",
			Data: []byte(`{}`), CreatedAt: now, DueAt: now.Add(time.Duration(i) * time.Minute), NextAttempt: now,
		})
	}
	if err := f.store.PlanNotifications(ctx, nil, ns, now); err != nil {
		t.Fatal(err)
	}
	var first, second struct {
		Items      []approval.Notification
		NextCursor *string `json:"next_cursor"`
	}
	f.admin.json(200, "GET", "/v1/notifications?limit=2", nil, &first)
	if len(first.Items) != 2 || first.NextCursor == nil || first.Items[0].ID < first.Items[1].ID {
		t.Fatalf("first page: %+v", first)
	}
	f.admin.json(200, "GET", "/v1/notifications?limit=2&cursor="+*first.NextCursor, nil, &second)
	if len(second.Items) != 1 || second.NextCursor != nil || second.Items[0].ID >= first.Items[1].ID {
		t.Fatalf("second page: %+v", second)
	}
	f.admin.json(200, "GET", "/v1/notifications?state=pending&request_id="+r.ID, nil, &first)
	if len(first.Items) != 3 {
		t.Fatalf("pending of the request: %+v", first.Items)
	}
	f.admin.json(200, "GET", "/v1/notifications?state=failed", nil, &first)
	if len(first.Items) != 0 {
		t.Fatalf("failed: %+v", first.Items)
	}
	f.admin.json(200, "GET", "/v1/notifications?request_id=0190a5f0-0000-7000-8000-000000000009", nil, &first)
	if len(first.Items) != 0 {
		t.Fatalf("of another request: %+v", first.Items)
	}
	for query, field := range map[string]string{"state=sent": "state", "limit=0": "limit", "cursor=nope": "cursor", "actor=x": "actor"} {
		wantFields(t, query, f.admin.raw("GET", "/v1/notifications?"+query, nil), field)
	}
}
