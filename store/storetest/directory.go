package storetest

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"approvald/approval"
)

// mailChannel returns an email channel named name as the engine stores it.
func mailChannel(name string) *approval.NotificationChannel {
	return &approval.NotificationChannel{Name: name, Type: approval.ChannelEmail,
		Email:     &approval.EmailSettings{Host: "smtp.example", Port: 587, TLS: approval.TLSStartTLS, From: "approvald@example.com", Username: "apd", PasswordEnv: "SMTP_PASSWORD"},
		CreatedAt: t0, UpdatedAt: t0}
}

// createChannel stores c and returns the test's copy of it.
func createChannel(t *testing.T, s Store, c *approval.NotificationChannel) *approval.NotificationChannel {
	t.Helper()
	if err := s.CreateChannel(t.Context(), c); err != nil {
		t.Fatalf("CreateChannel(%s): %v", c.Name, err)
	}
	return c
}

// wantField fails the test unless err is a KindInvalid error on field.
func wantField(t *testing.T, what string, err error, field string) {
	t.Helper()
	wantKind(t, what, err, approval.KindInvalid)
	if e := approval.AsError(err); e == nil || len(e.Fields) != 1 || e.Fields[0].Field != field {
		t.Errorf("%s: error %v, want one on field %q", what, err, field)
	}
}

func testChannels(t *testing.T, s Store) {
	ctx := t.Context()
	mail := createChannel(t, s, mailChannel("mail"))
	chat := createChannel(t, s, &approval.NotificationChannel{Name: "chat", Type: approval.ChannelSlack,
		URL: "https://hooks.slack.example/services/T0/B0/secret", CreatedAt: at(time.Minute), UpdatedAt: at(time.Minute)})
	if mail.Version != 1 || chat.Version != 1 {
		t.Errorf("new channels are at versions %d and %d, want 1", mail.Version, chat.Version)
	}
	for _, c := range []*approval.NotificationChannel{mail, chat} {
		if got, err := s.GetChannel(ctx, c.Name); err != nil || !reflect.DeepEqual(got, c) {
			t.Errorf("GetChannel(%s) = %+v, %v; want %+v", c.Name, got, err, c)
		}
	}
	if got, err := s.ListChannels(ctx); err != nil || !reflect.DeepEqual(got, []approval.NotificationChannel{*chat, *mail}) {
		t.Errorf("ListChannels = %+v, %v; want chat, mail", got, err)
	}
	err := s.CreateChannel(ctx, mailChannel("mail"))
	wantKind(t, "CreateChannel of a name that exists", err, approval.KindConflict)
	_, err = s.GetChannel(ctx, "nope")
	wantKind(t, "GetChannel of an unknown name", err, approval.KindNotFound)

	// An update bumps the version; fn's error writes nothing.
	got, err := s.UpdateChannel(ctx, "mail", func(c *approval.NotificationChannel) error {
		c.Email.Host, c.UpdatedAt = "relay.example", at(time.Hour)
		return nil
	})
	want := mailChannel("mail")
	want.Email.Host, want.UpdatedAt, want.Version = "relay.example", at(time.Hour), 2
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("UpdateChannel = %+v, %v; want %+v", got, err, want)
	}
	boom := errors.New("boom")
	if _, err := s.UpdateChannel(ctx, "mail", func(c *approval.NotificationChannel) error {
		c.Email.Host = "other.example"
		return boom
	}); err != boom {
		t.Errorf("UpdateChannel with fn failing: %v, want fn's error", err)
	}
	if stored, err := s.GetChannel(ctx, "mail"); err != nil || !reflect.DeepEqual(stored, want) {
		t.Errorf("after UpdateChannel: %+v, %v; want %+v", stored, err, want)
	}
	_, err = s.UpdateChannel(ctx, "nope", func(*approval.NotificationChannel) error { return nil })
	wantKind(t, "UpdateChannel of an unknown name", err, approval.KindNotFound)
	_, err = s.UpdateChannel(ctx, "mail", func(c *approval.NotificationChannel) error {
		c.Name = "renamed"
		return nil
	})
	wantKind(t, "UpdateChannel renaming", err, approval.KindInternal)

	if err := s.DeleteChannel(ctx, "chat"); err != nil {
		t.Fatalf("DeleteChannel: %v", err)
	}
	wantKind(t, "DeleteChannel again", s.DeleteChannel(ctx, "chat"), approval.KindNotFound)
	if got, err := s.ListChannels(ctx); err != nil || len(got) != 1 || got[0].Name != "mail" {
		t.Errorf("ListChannels after deleting chat = %+v, %v", got, err)
	}
}

// testChannelsInUse: routes and group contacts name only stored channels,
// and a channel they name cannot be deleted.
func testChannelsInUse(t *testing.T, s Store) {
	ctx := t.Context()
	createChannel(t, s, mailChannel("mail"))
	err := s.CreateRoute(ctx, &approval.NotificationRoute{Channel: "nope", Scope: approval.RouteAll, CreatedAt: t0})
	wantField(t, "CreateRoute naming an unknown channel", err, "channel")
	err = s.PutContact(ctx, approval.Contact{Group: "finance", Channel: "nope", Source: approval.ContactAdmin, UpdatedAt: t0})
	wantField(t, "PutContact of a group naming an unknown channel", err, "channel")
	if got, _ := s.ListRoutes(ctx); len(got) != 0 {
		t.Errorf("a refused route was stored: %+v", got)
	}
	if got, _ := s.ListContacts(ctx); len(got) != 0 {
		t.Errorf("a refused contact was stored: %+v", got)
	}

	rt := &approval.NotificationRoute{Channel: "mail", Scope: approval.RouteAll, CreatedAt: t0}
	if err := s.CreateRoute(ctx, rt); err != nil {
		t.Fatalf("CreateRoute: %v", err)
	}
	wantKind(t, "DeleteChannel named by a route", s.DeleteChannel(ctx, "mail"), approval.KindConflict)
	if err := s.DeleteRoute(ctx, rt.ID); err != nil {
		t.Fatalf("DeleteRoute: %v", err)
	}
	if err := s.PutContact(ctx, approval.Contact{Group: "finance", Channel: "mail", Source: approval.ContactAdmin, UpdatedAt: t0}); err != nil {
		t.Fatalf("PutContact: %v", err)
	}
	wantKind(t, "DeleteChannel named by a group's contact", s.DeleteChannel(ctx, "mail"), approval.KindConflict)
	if _, err := s.GetChannel(ctx, "mail"); err != nil {
		t.Errorf("a refused DeleteChannel deleted the channel: %v", err)
	}
	if err := s.DeleteContact(ctx, "group:finance"); err != nil {
		t.Fatalf("DeleteContact: %v", err)
	}
	if err := s.DeleteChannel(ctx, "mail"); err != nil {
		t.Errorf("DeleteChannel no longer named: %v", err)
	}
}

func testRoutes(t *testing.T, s Store) {
	ctx := t.Context()
	createChannel(t, s, mailChannel("mail"))
	all := &approval.NotificationRoute{Channel: "mail", Scope: approval.RouteAll, CreatedAt: t0}
	some := &approval.NotificationRoute{Channel: "mail", Events: []approval.NotifyKind{approval.NotifyDecision, approval.NotifyExpired},
		Scope: approval.RouteServiceRule + "billing", CreatedAt: at(time.Minute)}
	for _, rt := range []*approval.NotificationRoute{all, some} {
		if err := s.CreateRoute(ctx, rt); err != nil {
			t.Fatalf("CreateRoute: %v", err)
		}
	}
	if all.ID <= 0 || some.ID <= all.ID {
		t.Errorf("routes got ids %d and %d, want positive and increasing", all.ID, some.ID)
	}
	if all.Events == nil || len(all.Events) != 0 {
		t.Errorf("nil events were stored as %#v, want none", all.Events)
	}
	if got, err := s.ListRoutes(ctx); err != nil || !reflect.DeepEqual(got, []approval.NotificationRoute{*all, *some}) {
		t.Errorf("ListRoutes = %+v, %v; want %+v, %+v", got, err, *all, *some)
	}
	if err := s.DeleteRoute(ctx, all.ID); err != nil {
		t.Fatalf("DeleteRoute: %v", err)
	}
	wantKind(t, "DeleteRoute again", s.DeleteRoute(ctx, all.ID), approval.KindNotFound)
	if got, err := s.ListRoutes(ctx); err != nil || !reflect.DeepEqual(got, []approval.NotificationRoute{*some}) {
		t.Errorf("ListRoutes after a delete = %+v, %v", got, err)
	}
}

// testContacts: a contact of a source that takes precedence is never
// replaced by one of a lower source; the same source replaces it.
func testContacts(t *testing.T, s Store) {
	ctx := t.Context()
	createChannel(t, s, mailChannel("mail"))
	put := func(c approval.Contact) {
		t.Helper()
		if err := s.PutContact(ctx, c); err != nil {
			t.Fatalf("PutContact(%+v): %v", c, err)
		}
	}
	carol := func(email, source string, d time.Duration) approval.Contact {
		return approval.Contact{Principal: "user:carol", Email: email, Source: source, UpdatedAt: at(d)}
	}
	contactIs := func(what string, want approval.Contact) {
		t.Helper()
		got, err := s.Contacts(ctx, []string{want.Key(), "user:nobody"})
		if err != nil || len(got) != 1 || !reflect.DeepEqual(got[want.Key()], want) {
			t.Errorf("%s: Contacts = %+v, %v; want %+v", what, got, err, want)
		}
	}
	put(carol("c1@example.com", approval.ContactAPIKey, 0))
	contactIs("an api_key contact", carol("c1@example.com", approval.ContactAPIKey, 0))
	put(carol("c2@example.com", approval.ContactAPIKey, time.Minute))
	contactIs("the same source replaces", carol("c2@example.com", approval.ContactAPIKey, time.Minute))
	put(carol("c3@example.com", approval.ContactOIDC, 2*time.Minute))
	contactIs("oidc over api_key", carol("c3@example.com", approval.ContactOIDC, 2*time.Minute))
	put(carol("c4@example.com", approval.ContactAPIKey, 3*time.Minute))
	contactIs("api_key does not replace oidc", carol("c3@example.com", approval.ContactOIDC, 2*time.Minute))
	admin := carol("carol@example.com", approval.ContactAdmin, 4*time.Minute)
	admin.Admin = true
	put(admin)
	contactIs("admin over oidc", admin)
	put(carol("c5@example.com", approval.ContactOIDC, 5*time.Minute))
	put(carol("c6@example.com", approval.ContactAPIKey, 6*time.Minute))
	contactIs("nothing replaces admin but admin", admin)

	team := approval.Contact{Group: "finance", Emails: []string{"a@example.com", "b@example.com"}, Channel: "mail", Source: approval.ContactAdmin, UpdatedAt: t0}
	dave := approval.Contact{Principal: "user:dave", Email: "dave@example.com", Source: approval.ContactOIDC, UpdatedAt: t0}
	put(team)
	put(dave)
	contactIs("a group's contact", team)
	if got, err := s.ListContacts(ctx); err != nil || !reflect.DeepEqual(got, []approval.Contact{team, admin, dave}) {
		t.Errorf("ListContacts = %+v, %v; want group:finance, user:carol, user:dave", got, err)
	}
	if got, err := s.AdminContacts(ctx); err != nil || !reflect.DeepEqual(got, []approval.Contact{admin}) {
		t.Errorf("AdminContacts = %+v, %v; want carol's", got, err)
	}
	if got, err := s.Contacts(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("Contacts of no keys = %+v, %v", got, err)
	}
	if err := s.DeleteContact(ctx, "user:carol"); err != nil {
		t.Fatalf("DeleteContact: %v", err)
	}
	wantKind(t, "DeleteContact again", s.DeleteContact(ctx, "user:carol"), approval.KindNotFound)
	// Deleted, a contact of any source may come back.
	put(carol("c7@example.com", approval.ContactAPIKey, 7*time.Minute))
	contactIs("after the delete", carol("c7@example.com", approval.ContactAPIKey, 7*time.Minute))
}

func testMutes(t *testing.T, s Store) {
	ctx := t.Context()
	set := func(p string, kinds ...approval.NotifyKind) {
		t.Helper()
		if err := s.SetMutes(ctx, p, kinds); err != nil {
			t.Fatalf("SetMutes(%s): %v", p, err)
		}
	}
	set("user:carol", approval.NotifyReminder, approval.NotifyDecision)
	set("user:dave", approval.NotifyExpired)
	set("user:dave", approval.NotifyReminder) // replaces
	set("user:erin")
	got, err := s.Mutes(ctx, []string{"user:carol", "user:dave", "user:erin", "user:nobody"})
	want := map[string][]approval.NotifyKind{
		"user:carol": {approval.NotifyReminder, approval.NotifyDecision},
		"user:dave":  {approval.NotifyReminder},
		"user:erin":  {},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Mutes = %#v, %v; want %#v", got, err, want)
	}
}

// newDelegation returns a delegation from delegator to delegate, from
// t0+starts to t0+ends, created at t0+created.
func newDelegation(t *testing.T, delegator, delegate string, starts, ends, created time.Duration) approval.Delegation {
	return approval.Delegation{ID: newID(t), Delegator: delegator, DelegatorGroups: []string{"finance"}, Delegate: delegate,
		Starts: at(starts), Ends: at(ends), Reason: "leave", CreatedBy: delegator, CreatedAt: at(created)}
}

func testDelegations(t *testing.T, s Store) {
	ctx := t.Context()
	day := 24 * time.Hour
	a := newDelegation(t, "user:carol", "user:dave", 0, day, 0)
	b := newDelegation(t, "user:erin", "user:dave", day, 2*day, time.Minute) // later
	c := newDelegation(t, "user:dave", "user:frank", 0, day, 2*time.Minute)
	c.DelegatorGroups = []string{}
	for _, d := range []approval.Delegation{a, b, c} {
		if err := s.CreateDelegation(ctx, d); err != nil {
			t.Fatalf("CreateDelegation: %v", err)
		}
	}
	wantKind(t, "CreateDelegation of an id stored", s.CreateDelegation(ctx, a), approval.KindConflict)
	if got, err := s.GetDelegation(ctx, a.ID); err != nil || !reflect.DeepEqual(*got, a) {
		t.Errorf("GetDelegation = %+v, %v; want %+v", got, err, a)
	}
	_, err := s.GetDelegation(ctx, newID(t))
	wantKind(t, "GetDelegation of an unknown id", err, approval.KindNotFound)
	_, err = s.GetDelegation(ctx, "not-an-id")
	wantKind(t, "GetDelegation of a malformed id", err, approval.KindNotFound)

	list := func(f approval.DelegationFilter, want ...approval.Delegation) {
		t.Helper()
		got, err := s.ListDelegations(ctx, f)
		if err != nil || len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
			t.Errorf("ListDelegations(%+v) = %+v, %v; want %+v", f, got, err, want)
		}
	}
	list(approval.DelegationFilter{}, c, b, a) // newest first
	list(approval.DelegationFilter{Limit: 2}, c, b)
	list(approval.DelegationFilter{Principal: "user:dave"}, c, b, a) // either side
	list(approval.DelegationFilter{Principal: "user:erin"}, b)
	list(approval.DelegationFilter{ActiveAt: at(time.Hour)}, c, a)
	list(approval.DelegationFilter{ActiveAt: at(day)}, b) // ends are exclusive, starts inclusive
	list(approval.DelegationFilter{Principal: "user:dave", ActiveAt: at(day + time.Hour)}, b)

	active := func(delegate string, when time.Time, want ...approval.Delegation) {
		t.Helper()
		got, err := s.ActiveDelegations(ctx, delegate, when)
		if err != nil || len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
			t.Errorf("ActiveDelegations(%s, %v) = %+v, %v; want %+v", delegate, when, got, err, want)
		}
	}
	active("user:dave", at(time.Hour), a)
	active("user:dave", at(day), b)
	active("user:dave", at(2*day))
	active("user:carol", at(time.Hour)) // the delegator lends, it does not receive

	revoked, err := s.RevokeDelegation(ctx, a.ID, "user:carol", at(2*time.Hour))
	want := a
	want.RevokedAt, want.RevokedBy = new(at(2*time.Hour)), "user:carol"
	if err != nil || !reflect.DeepEqual(*revoked, want) {
		t.Errorf("RevokeDelegation = %+v, %v; want %+v", revoked, err, want)
	}
	again, err := s.RevokeDelegation(ctx, a.ID, "admin", at(3*time.Hour))
	if err != nil || !reflect.DeepEqual(*again, want) {
		t.Errorf("RevokeDelegation again = %+v, %v; want it unchanged, %+v", again, err, want)
	}
	active("user:dave", at(3*time.Hour))
	list(approval.DelegationFilter{ActiveAt: at(3 * time.Hour)}, c)
	_, err = s.RevokeDelegation(ctx, newID(t), "admin", at(time.Hour))
	wantKind(t, "RevokeDelegation of an unknown id", err, approval.KindNotFound)
	_, err = s.RevokeDelegation(ctx, "not-an-id", "admin", at(time.Hour))
	wantKind(t, "RevokeDelegation of a malformed id", err, approval.KindNotFound)
	if !slices.Equal(c.DelegatorGroups, []string{}) {
		t.Fatal("the test's copy changed")
	}
}
