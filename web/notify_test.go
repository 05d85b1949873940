package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"approvald/approval"
)

var testAdmin = approval.Principal{ID: "svc:admin", Scopes: []approval.Scope{approval.ScopeAdmin}}

func TestChannels_AnAdminCreatesListsAndDeletesChannelsAndRoutesWithoutSeeingTheWebhook(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	c := s.signedIn(testAdminKey)
	const hook = "https://hooks.slack.com/services/T000/B000/s3cretWebhookToken"
	csrf := c.csrf("/ui/admin/channels")
	r := c.post("/ui/admin/channels", url.Values{"csrf": {csrf}, "name": {"ops-chat"}, "type": {"slack"}, "url": {hook}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("creating a slack channel: %d\n%s", r.StatusCode, r.body)
	}
	r = c.post("/ui/admin/channels", url.Values{"csrf": {csrf}, "name": {"ops-mail"}, "type": {"email"}, "host": {"smtp.example.com"}, "port": {"587"},
		"tls": {"starttls"}, "from": {"approvald@example.com"}, "username": {"approvald"}, "password_file": {"/run/secrets/smtp"}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("creating an email channel: %d\n%s", r.StatusCode, r.body)
	}
	page := c.get("/ui/admin/channels?done=channel")
	mustContain(t, "the channels page", page.body, "The channel is created.", "ops-chat", "https://hooks.slack.com/…", "smtp.example.com:587", "password set")
	mustNotContain(t, "the channels page", page.body, "s3cretWebhookToken", "/services/T000")

	// A refused form keeps what was typed, but never the webhook URL.
	r = c.post("/ui/admin/channels", url.Values{"csrf": {csrf}, "name": {"ops-chat"}, "type": {"teams"}, "url": {hook}})
	if r.StatusCode != http.StatusConflict && r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("a second channel of the same name: %d", r.StatusCode)
	}
	mustNotContain(t, "the refused form", r.body, "s3cretWebhookToken")
	r = c.post("/ui/admin/channels", url.Values{"csrf": {csrf}, "name": {"meta"}, "type": {"slack"}, "url": {"http://169.254.169.254/latest"}})
	if r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("a webhook at the metadata address: %d, want 422", r.StatusCode)
	}

	r = c.post("/ui/admin/routes", url.Values{"csrf": {csrf}, "channel": {"ops-chat"}, "scope_kind": {"group:"}, "scope_name": {"finance"}, "events": {"review_requested", "escalation"}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("creating a route: %d\n%s", r.StatusCode, r.body)
	}
	routes, err := s.eng.Routes(context.Background(), testAdmin)
	if err != nil || len(routes) != 1 || routes[0].Scope != "group:finance" || len(routes[0].Events) != 2 {
		t.Fatalf("routes %+v, %v", routes, err)
	}
	mustContain(t, "the channels page", c.get("/ui/admin/channels").body, "group:finance", "review_requested, escalation")
	// A channel a route names stays.
	if r := c.post("/ui/admin/channels/ops-chat/delete", url.Values{"csrf": {csrf}}); r.StatusCode != http.StatusConflict {
		t.Fatalf("deleting a routed channel: %d, want 409", r.StatusCode)
	}
	if r := c.post("/ui/admin/routes/"+itoa64(routes[0].ID)+"/delete", url.Values{"csrf": {csrf}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("deleting the route: %d", r.StatusCode)
	}
	if r := c.post("/ui/admin/channels/ops-chat/delete", url.Values{"csrf": {csrf}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("deleting the channel: %d", r.StatusCode)
	}
	chans, _ := s.eng.Channels(context.Background(), testAdmin)
	if len(chans) != 1 || chans[0].Name != "ops-mail" {
		t.Fatalf("channels left: %+v", chans)
	}
}

func TestContacts_AnAdminSetsAndDeletesPeoplesAndGroupsContacts(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	c := s.signedIn(testAdminKey)
	csrf := c.csrf("/ui/admin/contacts")
	if r := c.post("/ui/admin/contacts", url.Values{"csrf": {csrf}, "kind": {"principal"}, "name": {"user:alice"}, "email": {"alice@example.com"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("setting a contact: %d\n%s", r.StatusCode, r.body)
	}
	if r := c.post("/ui/admin/contacts", url.Values{"csrf": {csrf}, "kind": {"group"}, "name": {"finance"}, "emails": {"a@example.com, b@example.com"}, "admin": {"1"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("setting a group's contact: %d\n%s", r.StatusCode, r.body)
	}
	r := c.post("/ui/admin/contacts", url.Values{"csrf": {csrf}, "kind": {"principal"}, "name": {"user:bob"}, "email": {"not an address"}})
	if r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("an invalid address: %d, want 422", r.StatusCode)
	}
	mustContain(t, "the refused form", r.body, "must be an email address", `value="user:bob"`)
	page := c.get("/ui/admin/contacts")
	mustContain(t, "the contacts page", page.body, "user:alice", "alice@example.com", "group finance", "a@example.com, b@example.com")
	if r := c.post("/ui/admin/contacts/delete", url.Values{"csrf": {csrf}, "key": {"group:finance"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("deleting a contact: %d", r.StatusCode)
	}
	contacts, _ := s.eng.Contacts(context.Background(), testAdmin)
	if len(contacts) != 1 || contacts[0].Principal != "user:alice" || contacts[0].Source != approval.ContactAdmin {
		t.Fatalf("contacts left: %+v", contacts)
	}
}

func TestAdmin_TheNotificationPagesNeedTheAdminScope(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	c := s.signedIn(ro.reviewer)
	for _, path := range []string{"/ui/admin/channels", "/ui/admin/contacts"} {
		if r := c.get(path); r.StatusCode != http.StatusForbidden {
			t.Errorf("GET %s as a reviewer: %d, want 403", path, r.StatusCode)
		}
	}
	csrf := c.csrf("/ui/")
	for path, form := range map[string]url.Values{
		"/ui/admin/channels":          {"name": {"x"}, "type": {"slack"}, "url": {"https://hooks.example/x"}},
		"/ui/admin/routes":            {"channel": {"x"}},
		"/ui/admin/contacts":          {"kind": {"principal"}, "name": {"svc:lead"}, "email": {"lead@example.com"}},
		"/ui/admin/contacts/delete":   {"key": {"svc:lead"}},
		"/ui/admin/channels/x/delete": {},
		"/ui/admin/routes/1/delete":   {},
	} {
		form.Set("csrf", csrf)
		if r := c.post(path, form); r.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s as a reviewer: %d, want 403", path, r.StatusCode)
		}
	}
	if nav := c.get("/ui/").body; strings.Contains(nav, "/ui/admin/channels") || !strings.Contains(nav, `href="/ui/delegations"`) || !strings.Contains(nav, `href="/ui/notifications"`) {
		t.Error("a reviewer's navigation offers the admin pages, or lacks delegations and notifications")
	}
}

func TestPreferences_APrincipalMutesKindsOfNotification(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	c := s.signedIn(ro.reviewer)
	page := c.get("/ui/notifications")
	mustContain(t, "the preferences", page.body, `value="review_requested"`, `value="reminder"`, `value="expired"`)
	mustNotContain(t, "the preferences", page.body, "checked")
	r := c.post("/ui/notifications", url.Values{"csrf": {c.csrf("/ui/notifications")}, "muted": {"reminder", "decision"}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("saving: %d\n%s", r.StatusCode, r.body)
	}
	muted, err := s.eng.Mutes(context.Background(), s.principal(ro.reviewer))
	if err != nil || len(muted) != 2 || muted[0] != approval.NotifyDecision || muted[1] != approval.NotifyReminder {
		t.Fatalf("mutes %v, %v", muted, err)
	}
	mustContain(t, "the saved preferences", c.get("/ui/notifications?done=save").body, `value="reminder" id="mute-reminder" checked`, "are saved")
	if r := c.post("/ui/notifications", url.Values{"csrf": {c.csrf("/ui/notifications")}, "muted": {"everything"}}); r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("an unknown kind: %d, want 422", r.StatusCode)
	}
	// Unticking all unmutes.
	c.post("/ui/notifications", url.Values{"csrf": {c.csrf("/ui/notifications")}})
	if muted, _ := s.eng.Mutes(context.Background(), s.principal(ro.reviewer)); len(muted) != 0 {
		t.Fatalf("mutes after unticking all: %v", muted)
	}
}

// delegated is a request only the finance group may review, a reviewer of
// finance (lead), and a deputy outside it to whom lead delegated.
type delegated struct {
	ro     roles
	deputy string
	req    *approval.Request
	id     string // the delegation's
}

func (s *stack) delegated(t *testing.T) delegated {
	t.Helper()
	d := delegated{ro: s.roles(), deputy: s.key("deputy", approval.ScopeReview, approval.ScopeRead)}
	d.req = s.create(d.ro.requester, approval.Draft{Title: "Pay invoice 44",
		Policy: &approval.Policy{Rules: []approval.Rule{{Name: "finance", MinApprovals: 1, Groups: []string{"finance"}}}}})
	lead := s.signedIn(d.ro.reviewer)
	ends := time.Now().UTC().Add(48 * time.Hour).Format(dateTimeLocal)
	r := lead.post("/ui/delegations", url.Values{"csrf": {lead.csrf("/ui/delegations")}, "delegate": {"svc:deputy"}, "ends": {ends}, "reason": {"On leave"}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("delegating: %d\n%s", r.StatusCode, r.body)
	}
	ds, err := s.eng.Delegations(context.Background(), s.principal(d.ro.reviewer), approval.DelegationFilter{})
	if err != nil || len(ds) != 1 || ds[0].Delegator != "svc:lead" || ds[0].Delegate != "svc:deputy" || !slicesEqual(ds[0].DelegatorGroups, []string{"finance"}) {
		t.Fatalf("delegations %+v, %v", ds, err)
	}
	d.id = ds[0].ID
	return d
}

func slicesEqual(a, b []string) bool { return strings.Join(a, ",") == strings.Join(b, ",") }

func TestDelegations_AReviewerDelegatesAndTheDelegateReviewsForThem(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	d := s.delegated(t)
	deputy := s.signedIn(d.deputy)
	mustContain(t, "the deputy's delegations", deputy.get("/ui/delegations").body, "svc:lead", "svc:deputy", "(you)", "On leave", "active", "/revoke")
	page := deputy.get("/ui/requests/" + d.req.ID)
	mustContain(t, "the deputy's request page", page.body, "Approve for svc:lead", "Reject for svc:lead", `name="on_behalf_of" value="svc:lead"`)
	// A delegate never reviews its own request for its delegator.
	maker := s.key("maker", approval.ScopeCreate, approval.ScopeRead, approval.ScopeReview)
	own := s.create(maker, approval.Draft{Title: "Pay invoice 45", Policy: &approval.Policy{Rules: []approval.Rule{{Name: "finance", MinApprovals: 1, Groups: []string{"finance"}}}}})
	lead := s.signedIn(d.ro.reviewer)
	ends := time.Now().UTC().Add(time.Hour).Format(dateTimeLocal)
	if r := lead.post("/ui/delegations", url.Values{"csrf": {lead.csrf("/ui/delegations")}, "delegate": {"svc:maker"}, "ends": {ends}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("delegating to the maker: %d", r.StatusCode)
	}
	mc := s.signedIn(maker)
	mustContain(t, "the maker's page of another request", mc.get("/ui/requests/"+d.req.ID).body, "Approve for svc:lead")
	mustNotContain(t, "the maker's page of its own request", mc.get("/ui/requests/"+own.ID).body, "for svc:lead")
	r := deputy.post("/ui/requests/"+d.req.ID+"/review", url.Values{"csrf": {deputy.csrf("/ui/delegations")}, "decision": {"approve"},
		"version": {itoa64(d.req.Version)}, "content_digest": {d.req.Digest}, "on_behalf_of": {"svc:lead"}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("approving for the delegator: %d\n%s", r.StatusCode, r.body)
	}
	got := s.waitStatus(d.req.ID, approval.StatusApproved)
	if rv := got.Reviews[0]; rv.Reviewer != "svc:lead" || rv.By != "svc:deputy" {
		t.Fatalf("review %+v, want svc:lead's given by svc:deputy", rv)
	}
	mustContain(t, "the decided page", deputy.get(r.Header.Get("Location")).body, "You approved this request for svc:lead.", "svc:deputy</span> for <span class=\"mono\">svc:lead")
}

func TestDelegations_ARevokedDelegationStopsAtOnce(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	d := s.delegated(t)
	deputy := s.signedIn(d.deputy)
	// The delegate may revoke it too; someone else may not see it.
	other := s.signedIn(s.key("stranger", approval.ScopeReview, approval.ScopeRead))
	mustNotContain(t, "a stranger's delegations", other.get("/ui/delegations").body, "svc:deputy")
	if r := other.post("/ui/delegations/"+d.id+"/revoke", url.Values{"csrf": {other.csrf("/ui/delegations")}}); r.StatusCode != http.StatusNotFound {
		t.Fatalf("a stranger revoking: %d, want 404", r.StatusCode)
	}
	if r := deputy.post("/ui/delegations/"+d.id+"/revoke", url.Values{"csrf": {deputy.csrf("/ui/delegations")}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoking: %d", r.StatusCode)
	}
	mustContain(t, "the delegations", deputy.get("/ui/delegations?done=revoke").body, "revoked")
	mustNotContain(t, "the deputy's request page", deputy.get("/ui/requests/"+d.req.ID).body, "Approve for svc:lead")
}

func TestDelegations_RefusedFormsSayWhy(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ro := s.roles()
	lead := s.signedIn(ro.reviewer)
	csrf := lead.csrf("/ui/delegations")
	for name, form := range map[string]url.Values{
		"to oneself":      {"delegate": {"svc:lead"}, "ends": {time.Now().UTC().Add(time.Hour).Format(dateTimeLocal)}},
		"ended already":   {"delegate": {"svc:deputy"}, "ends": {time.Now().UTC().Add(-time.Hour).Format(dateTimeLocal)}},
		"not a date":      {"delegate": {"svc:deputy"}, "ends": {"next week"}},
		"not a principal": {"delegate": {"bob"}, "ends": {time.Now().UTC().Add(time.Hour).Format(dateTimeLocal)}},
	} {
		form.Set("csrf", csrf)
		r := lead.post("/ui/delegations", form)
		if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="form-error"`) {
			t.Errorf("%s: %d, want 422 with the reason", name, r.StatusCode)
		}
	}
	ds, _ := s.eng.Delegations(context.Background(), testAdmin, approval.DelegationFilter{})
	if len(ds) != 0 {
		t.Fatalf("refused forms stored delegations: %+v", ds)
	}
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
