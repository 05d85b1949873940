package main

import (
	"strconv"
	"strings"
	"testing"

	"approvald/client/clienttest"
)

func TestCLI_ChannelsRoutesContacts(t *testing.T) {
	t.Parallel()
	p := setup(t)
	chat, mail := clienttest.UniqueName("chat"), clienttest.UniqueName("mail")
	const hook = "https://hooks.slack.com/services/T9/B9/cli-secret-path"

	created := p.admin.input(hook+"\n").ok("channels", "create", chat, "--type", "slack", "--url-file", "-")
	if !strings.HasPrefix(created.stdout, "NAME ") || !strings.Contains(created.stdout, "https://hooks.slack.com/…") {
		t.Fatalf("create:\n%s", created.stdout)
	}
	var ch struct {
		Name  string `json:"name"`
		Email struct {
			Port         int    `json:"port"`
			PasswordFile string `json:"password_file"`
		} `json:"email"`
	}
	p.admin.okJSON(&ch, "channels", "create", mail, "--type", "email", "--smtp-host", "smtp.example.com", "--from", "approvald@example.com",
		"--username", "approvald", "--password-file", "/run/secrets/smtp")
	if ch.Email.Port != 587 || ch.Email.PasswordFile != "/run/secrets/smtp" {
		t.Fatalf("email channel: %+v", ch)
	}
	if r := p.admin.run("channels", "create", clienttest.UniqueName("meta"), "--type", "teams", "--url", "http://169.254.169.254/x"); r.code != 1 || !strings.Contains(r.stderr, "url") {
		t.Fatalf("a metadata address: %s", r)
	}
	if r := p.reviewer.run("channels", "create", clienttest.UniqueName("x"), "--type", "slack", "--url", hook); r.code != 1 || !strings.Contains(r.stderr, "403 missing_scope") {
		t.Fatalf("a reviewer creating a channel: %s", r)
	}
	list := p.admin.ok("channels", "list").stdout
	if !strings.Contains(list, chat) || !strings.Contains(list, mail) || strings.Contains(list, "cli-secret-path") {
		t.Fatalf("list:\n%s", list)
	}
	if j := p.admin.ok("channels", "list", "-o", "json").stdout; strings.Contains(j, "cli-secret-path") || !strings.Contains(j, `"items"`) {
		t.Fatalf("list -o json:\n%s", j)
	}

	var rt struct {
		ID     int64    `json:"id"`
		Events []string `json:"events"`
		Scope  string   `json:"scope"`
	}
	p.admin.okJSON(&rt, "routes", "create", "--channel", chat, "--event", "review_requested,escalation", "--scope", "group:finance")
	if rt.ID < 1 || len(rt.Events) != 2 || rt.Scope != "group:finance" {
		t.Fatalf("route: %+v", rt)
	}
	id := strconv.FormatInt(rt.ID, 10)
	if names := p.admin.ok("routes", "list", "-o", "name").stdout; !strings.Contains(names, id+"\n") {
		t.Fatalf("routes -o name:\n%s", names)
	}
	if r := p.admin.run("channels", "delete", chat); r.code != 1 || !strings.Contains(r.stderr, "409 conflict") {
		t.Fatalf("deleting a routed channel: %s", r)
	}
	if r := p.admin.ok("routes", "delete", id); r.stdout != "route "+id+" deleted\n" {
		t.Fatalf("routes delete: %s", r)
	}
	if r := p.admin.run("routes", "delete", "x"); r.code != 1 || !strings.Contains(r.stderr, "is not a number") {
		t.Fatalf("routes delete x: %s", r)
	}

	person := "user:" + clienttest.UniqueName("alice")
	group := "group:" + clienttest.UniqueName("finance")
	p.admin.ok("contacts", "set", person, "--email", "alice@example.com", "--admin")
	p.admin.ok("contacts", "set", group, "--email", "f1@example.com,f2@example.com", "--channel", mail)
	if r := p.admin.run("contacts", "set", person, "--email", "a@example.com", "--email", "b@example.com"); r.code != 1 || !strings.Contains(r.stderr, "one --email") {
		t.Fatalf("two addresses for a person: %s", r)
	}
	if r := p.admin.run("contacts", "set", person, "--email", "nope"); r.code != 1 || !strings.Contains(r.stderr, "email") {
		t.Fatalf("an invalid address: %s", r)
	}
	contacts := p.admin.ok("contacts", "list").stdout
	if !strings.Contains(contacts, person) || !strings.Contains(contacts, "f1@example.com,f2@example.com,channel:"+mail) {
		t.Fatalf("contacts:\n%s", contacts)
	}
	p.admin.ok("contacts", "delete", person)
	p.admin.ok("contacts", "delete", group)
	if contacts := p.admin.ok("contacts", "list", "-o", "name").stdout; strings.Contains(contacts, person) {
		t.Fatalf("contacts after delete:\n%s", contacts)
	}
	p.admin.ok("channels", "delete", chat)
	p.admin.ok("channels", "delete", mail)
}

func TestCLI_DelegationsAndApproveOnBehalfOf(t *testing.T) {
	t.Parallel()
	p := setup(t)
	awayKey := shared.NewKey(t, "away", "approvals:review", "approvals:read")
	standinKey := shared.NewKey(t, "standin", "approvals:review", "approvals:read")
	away, standin := newCtl(t, awayKey.Secret), newCtl(t, standinKey.Secret)

	var d struct {
		ID        string  `json:"id"`
		Delegator string  `json:"delegator"`
		Delegate  string  `json:"delegate"`
		RevokedAt *string `json:"revoked_at"`
	}
	away.okJSON(&d, "delegations", "create", standinKey.Principal(), "--until", "2h", "--reason", "holiday")
	if d.Delegator != awayKey.Principal() || d.Delegate != standinKey.Principal() {
		t.Fatalf("created %+v", d)
	}
	if list := standin.ok("delegations", "list", "--active").stdout; !strings.Contains(list, d.ID) || !strings.Contains(list, "active") {
		t.Fatalf("the delegate's list:\n%s", list)
	}
	if r := away.run("delegations", "create", standinKey.Principal(), "--until", "2h", "--delegator", "user:someone"); r.code != 1 || !strings.Contains(r.stderr, "403 missing_scope") {
		t.Fatalf("delegating someone else's: %s", r)
	}
	if r := away.run("delegations", "create", standinKey.Principal()); r.code != 1 || !strings.Contains(r.stderr, `"until" not set`) {
		t.Fatalf("without --until: %s", r)
	}

	policy := clienttest.UniqueName("delegator-only")
	p.admin.input(`{"rules":[{"min_approvals":1,"principals":["`+awayKey.Principal()+`"]}]}`).ok("policies", "create", policy, "-f", "-")
	id := p.create("--title", "needs the delegator", "--payload", `{"n":1}`, "--policy-name", policy)
	var r request
	standin.okJSON(&r, "approve", id, "--on-behalf-of", awayKey.Principal(), "-m", "for alice")
	if r.Status != "approved" || len(r.Reviews) != 1 || r.Reviews[0].Reviewer != awayKey.Principal() {
		t.Fatalf("approved for the delegator: %+v", r)
	}

	away.okJSON(&d, "delegations", "revoke", d.ID)
	if d.RevokedAt == nil {
		t.Fatalf("revoked: %+v", d)
	}
	id2 := p.create("--title", "after the revocation", "--payload", `{"n":2}`, "--policy-name", policy)
	if res := standin.run("reject", id2, "--on-behalf-of", awayKey.Principal()); res.code == 0 {
		t.Fatalf("a review under a revoked delegation: %s", res)
	}
	if list := p.admin.ok("delegations", "list", "--principal", awayKey.Principal()).stdout; !strings.Contains(list, "revoked") {
		t.Fatalf("the admin's list:\n%s", list)
	}
}

func TestCLI_NotificationsList(t *testing.T) {
	t.Parallel()
	p := setup(t)
	if out := p.admin.ok("notifications", "list", "--state", "failed").stdout; !strings.HasPrefix(out, "ID ") {
		t.Fatalf("notifications list:\n%s", out)
	}
	if r := p.admin.run("notifications", "list", "--state", "lost"); r.code != 1 || !strings.Contains(r.stderr, "state") {
		t.Fatalf("an unknown state: %s", r)
	}
	if r := p.requester.run("notifications", "list"); r.code != 1 || !strings.Contains(r.stderr, "403 missing_scope") {
		t.Fatalf("a requester: %s", r)
	}
}
