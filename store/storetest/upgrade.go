package storetest

import (
	"encoding/json"
	"io/fs"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/pressly/goose/v3"

	"approvald/approval"
	"approvald/gateway/calllog"
)

// DestructiveMark is the comment by which a migration declares that its Up
// section is destructive on purpose, with the reason after it: the contract
// step of an expand-then-contract change, made a release after the code
// stopped using what it removes (see "Rolling upgrades" in docs/deploy.md).
const DestructiveMark = "-- destructive:"

// destructive are the statements that break the previous release running
// against the migrated schema: they remove or rename what it reads or
// writes, change a column's type under it, or make a column it may leave
// out required.
var destructive = []struct {
	name string
	re   *regexp.Regexp
}{
	{"DROP TABLE", regexp.MustCompile(`(?i)\bDROP\s+TABLE\b`)},
	{"DROP COLUMN", regexp.MustCompile(`(?i)\bDROP\s+COLUMN\b`)},
	{"DROP SCHEMA", regexp.MustCompile(`(?i)\bDROP\s+SCHEMA\b`)},
	{"RENAME", regexp.MustCompile(`(?i)\bRENAME\b`)},
	{"ALTER COLUMN … TYPE", regexp.MustCompile(`(?i)\bALTER\s+(COLUMN\s+)?\S+\s+(SET\s+DATA\s+)?TYPE\b`)},
	{"SET NOT NULL", regexp.MustCompile(`(?i)\bSET\s+NOT\s+NULL\b`)},
	{"TRUNCATE", regexp.MustCompile(`(?i)\bTRUNCATE\b`)},
	{"DELETE", regexp.MustCompile(`(?i)\bDELETE\s+FROM\b`)},
}

// addColumn matches an added column up to the next one or the statement's end.
var addColumn = regexp.MustCompile(`(?is)\bADD\s+COLUMN\b.*?(?:;|$|(?:\bADD\s+COLUMN\b))`)

// Destructive returns the destructive statements of the Up section of the
// migration src (comments left out), by name, in the order of the list
// above, and whether the migration carries DestructiveMark.
func Destructive(src string) (found []string, marked bool) {
	up := src
	if i := strings.Index(up, "-- +goose Up"); i >= 0 {
		up = up[i:]
	}
	if i := strings.Index(up, "-- +goose Down"); i >= 0 {
		up = up[:i]
	}
	marked = strings.Contains(up, DestructiveMark)
	var code strings.Builder
	for line := range strings.Lines(up) {
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i] + "\n"
		}
		code.WriteString(line)
	}
	sql := code.String()
	for _, d := range destructive {
		if d.re.MatchString(sql) {
			found = append(found, d.name)
		}
	}
	// A column added NOT NULL without a default fails the previous
	// release's inserts, which leave it out.
	for rest := sql; ; {
		loc := addColumn.FindStringIndex(rest)
		if loc == nil {
			break
		}
		clause := strings.ToUpper(rest[loc[0]:loc[1]])
		clause = strings.TrimSuffix(strings.TrimSpace(strings.TrimSuffix(clause, "ADD COLUMN")), ";")
		if regexp.MustCompile(`\bNOT\s+NULL\b`).MatchString(clause) && !strings.Contains(clause, "DEFAULT") {
			found = append(found, "ADD COLUMN … NOT NULL without DEFAULT")
		}
		rest = rest[loc[0]+len("ADD COLUMN"):]
	}
	return found, marked
}

// Additive checks that the Up section of every migration in the folder
// migrations of fsys is additive (see Destructive), so that the previous
// release keeps working on the schema this one migrates: a migration that
// is not must carry DestructiveMark, or be among exceptions (file name to
// the reason it is allowed), the ones released before this check existed.
// An exception that is no longer destructive, or names no migration, fails
// too, so that the list stays true.
func Additive(t *testing.T, fsys fs.FS, exceptions map[string]string) {
	t.Helper()
	files, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migrations: %v, %v", files, err)
	}
	seen := map[string]bool{}
	for _, f := range files {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(f, "migrations/")
		found, marked := Destructive(string(b))
		reason, excepted := exceptions[name]
		seen[name] = true
		switch {
		case len(found) > 0 && !marked && !excepted:
			t.Errorf("migration %s is not additive (%s): the previous release could not run on it; split it into expand and contract across two releases, or mark it %q with the reason",
				name, strings.Join(found, ", "), DestructiveMark+" <reason>")
		case len(found) == 0 && excepted:
			t.Errorf("migration %s is listed as a destructive exception (%s) but is additive", name, reason)
		}
	}
	for name := range exceptions {
		if !seen[name] {
			t.Errorf("the destructive exception %s names no migration", name)
		}
	}
}

// Planted is a request written with plain SQL at schema version V, as the
// code of that version wrote it, with its changes (history entries and
// events, the events stored under EventIDs).
type Planted struct {
	V        int64
	R        *approval.Request
	Changes  []approval.Change
	Webhook  string // the service rule the last event is delivered to, if any
	EventIDs []string
}

// Upgrade steps a database through its migrations, one version at a time,
// for a rolling-upgrade test, and makes the requests the test plants at each
// version with real domain values (so that their history chains hold).
type Upgrade struct {
	t       *testing.T
	m       *goose.Provider
	insert  func(*Planted)
	T0      time.Time
	Version int64      // the schema version the database is at
	Planted []*Planted // every request planted, in order
	// One is the policy of the planted requests; Reviewer approves them.
	One      approval.Policy
	Reviewer approval.Principal
}

// NewUpgrade returns an Upgrade of the database m migrates, whose times
// start at t0; insert writes a planted request with the columns of its
// version.
func NewUpgrade(t *testing.T, m *goose.Provider, t0 time.Time, insert func(*Planted)) *Upgrade {
	return &Upgrade{t: t, m: m, insert: insert, T0: t0,
		One:      approval.Policy{Rules: []approval.Rule{{Name: "one", MinApprovals: 1, RejectThreshold: 1}}},
		Reviewer: approval.Principal{ID: "user:bob", Scopes: []approval.Scope{approval.ScopeReview}},
	}
}

// UpTo migrates the database up to version v and checks it is there.
func (u *Upgrade) UpTo(v int64) {
	u.t.Helper()
	ctx := u.t.Context()
	if _, err := u.m.UpTo(ctx, v); err != nil {
		u.t.Fatalf("migrating up to %d: %v", v, err)
	}
	got, err := u.m.GetDBVersion(ctx)
	if err != nil || got != v {
		u.t.Fatalf("schema version %d (%v), want %d", got, err, v)
	}
	u.Version = v
}

// Plant writes p at the current version.
func (u *Upgrade) Plant(p *Planted) {
	u.t.Helper()
	p.V = u.Version
	u.insert(p)
	u.Planted = append(u.Planted, p)
}

// NewRequest makes a request of d by user:alice under policy pol (from
// source), at T0 + at.
func (u *Upgrade) NewRequest(d approval.Draft, pol approval.Policy, source string, at time.Duration) (*approval.Request, approval.Change) {
	u.t.Helper()
	id, _ := uuid.NewV7()
	alice := approval.Principal{ID: "user:alice", Scopes: []approval.Scope{approval.ScopeCreate}}
	r, ch, err := approval.New(id.String(), d, alice, approval.Mandate{Policy: pol, Source: source}, u.T0.Add(at))
	if err != nil {
		u.t.Fatalf("approval.New: %v", err)
	}
	return r, ch
}

// Approve has the Reviewer approve r at T0 + at.
func (u *Upgrade) Approve(r *approval.Request, at time.Duration) approval.Change {
	u.t.Helper()
	ch, err := r.Review(u.Reviewer, approval.ReviewInput{Decision: approval.DecisionApprove, Comment: "fine"}, nil, u.T0.Add(at))
	if err != nil {
		u.t.Fatalf("Review: %v", err)
	}
	return ch
}

// V12Policy is the stored policy a rolling-upgrade test plants at version
// 12 (see PlantV12), with V12Match and priority 7.
const (
	V12Policy = "by-size"
	V12Match  = "size(items) > 1"
)

// PlantV12 plants, at version 12, a request with a justification and
// items that a reviewer sent back once (changes_requested, cycle 1), and an
// approved one that was then revoked, with its item outcome; and has policy
// write the stored policy V12Policy (its policy One, description "v12",
// version 1, created at T0) with its match and priority.
func (u *Upgrade) PlantV12(policy func(name, match string, priority int, pol approval.Policy)) {
	u.t.Helper()
	items := []approval.Item{{ID: "a", Name: "a.csv", MediaType: "text/csv", Size: 3, Digest: "sha256:" + strings.Repeat("a", 64), Metadata: json.RawMessage(`{"rows":1}`)},
		{ID: "b", Name: "b.csv", Size: 0, Digest: "sha256:" + strings.Repeat("b", 64)}}
	r, ch := u.NewRequest(approval.Draft{Title: "v12 sent back", Payload: json.RawMessage(`{}`)}, u.One, "default", 16*time.Second)
	r.Justification, r.Items, r.Cycle, r.Status = "for the audit", items, 1, approval.StatusChangesRequested
	ch.Event.Notify = ""
	u.Plant(&Planted{R: r, Changes: []approval.Change{ch}})
	r, ch = u.NewRequest(approval.Draft{Title: "v12 revoked", Payload: json.RawMessage(`{}`)}, u.One, "default", 17*time.Second)
	ch2 := u.Approve(r, 18*time.Second)
	r.Items, r.Status = items, approval.StatusRevoked
	r.ItemOutcome = &approval.ItemOutcome{Approved: []approval.ItemRef{{ID: "a", Name: "a.csv", Digest: items[0].Digest}},
		Rejected: []approval.ItemRef{{ID: "b", Name: "b.csv", Digest: items[1].Digest}}, Partial: true}
	r.Revocation = &approval.Revocation{By: "user:bob", At: u.T0.Add(19 * time.Second), Reason: "leaked"}
	for _, c := range []*approval.Change{&ch, &ch2} {
		c.Event.Notify = "" // only version 11's event is left to plan (see checkUpgradedDirectory)
	}
	u.Plant(&Planted{R: r, Changes: []approval.Change{ch, ch2}})
	policy(V12Policy, V12Match, 7, u.One)
}

// V12Columns returns the columns version 12 adds to approvals and r's
// values of them, as a rolling-upgrade test plants r: the items and
// outcomes as JSON text ("[]" for no items, nil for no outcome or
// revocation).
func V12Columns(r *approval.Request) (string, []any) {
	items := []byte("[]")
	if len(r.Items) > 0 {
		items, _ = json.Marshal(r.Items)
	}
	var outcome, revocation any
	if r.ItemOutcome != nil {
		b, _ := json.Marshal(r.ItemOutcome)
		outcome = string(b)
	}
	if r.Revocation != nil {
		b, _ := json.Marshal(r.Revocation)
		revocation = string(b)
	}
	return ", justification, items, item_outcome, cycle, revocation", []any{r.Justification, string(items), outcome, r.Cycle, revocation}
}

// Upgraded is what a rolling-upgrade test planted with plain SQL, version by
// version from the oldest schema, for CheckUpgraded to find: the API keys of
// versions 1 and 6, the service rules "publisher" (version 2) and "strict"
// (version 5, with the policy "two-reviewers"), a gateway call of project
// "proj" (version 7), the directory of version 11 (see V11Email and
// CheckUpgraded) and the requests.
type Upgraded struct {
	T0                            time.Time
	Requests                      []*Planted // every request planted
	V1Pending, V5                 string     // version 1's pending request, and version 5's, which depends on it
	AdminKey, BillingKey, FileKey string     // the keys' ids
	// V11, V11Delegation: version 11's request (with a notification
	// queued) and delegation.
	V11, V11Delegation string
	Reviewer           approval.Principal
	// NewRequest makes a request of d, with its creation change, as the
	// engine of this release would.
	NewRequest func(d approval.Draft) (*approval.Request, approval.Change)
}

// CheckUpgraded checks what s, opened on the upgraded database, reads of
// what u planted — each request as of its version (the fields added later
// at their defaults), its history and events, version 1's idempotency
// record, the keys, rules, policy, index and gateway calls — and that s
// works on it: an old request is reviewed, a new one made and reviewed, and
// every history chain verifies.
func CheckUpgraded(t *testing.T, s Store, u Upgraded) {
	t.Helper()
	ctx := t.Context()
	for _, p := range u.Requests {
		got, err := s.GetApproval(ctx, p.R.ID)
		if err != nil {
			t.Fatalf("GetApproval of the request planted at version %d: %v", p.V, err)
		}
		want := p.expected()
		got.SetDependencies(nil)
		if g, w := upgradeDump(got), upgradeDump(want); g != w {
			t.Errorf("request planted at version %d:\n got %s\nwant %s", p.V, g, w)
		}
		entries, err := s.History(ctx, p.R.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != len(p.Changes) {
			t.Errorf("request planted at version %d has %d history entries, want %d", p.V, len(entries), len(p.Changes))
		}
		for i := range min(len(entries), len(p.Changes)) {
			if w := p.Changes[i].Entry; !reflect.DeepEqual(entries[i], w) && !(entries[i].Hash == w.Hash && entries[i].At.Equal(w.At)) {
				t.Errorf("request planted at version %d: entry %d is %+v, want %+v", p.V, i+1, entries[i], w)
			}
		}
		if err := approval.VerifyChain(entries); err != nil {
			t.Errorf("history of the request planted at version %d: %v", p.V, err)
		}
	}

	// The outbox: every event, with its webhook and trace.
	recs, err := s.Outbox(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]approval.OutboxRecord{}
	for _, rec := range recs {
		byID[rec.ID] = rec
	}
	for _, p := range u.Requests {
		for i, id := range p.EventIDs {
			rec, ok := byID[id]
			ev := p.Changes[i].Event
			switch {
			case !ok:
				t.Errorf("event %d of the request planted at version %d is missing from the outbox", i+1, p.V)
			case rec.Type != ev.Type || rec.RequestID != ev.RequestID || rec.Version != ev.Version || string(rec.Data) != string(ev.Data) ||
				rec.TraceParent != ev.TraceParent || rec.Webhook != p.WebhookOf(i) || rec.Notify != p.NotifyOf(i):
				t.Errorf("event %d of the request planted at version %d is %+v, want %+v (webhook %q)", i+1, p.V, rec, ev, p.WebhookOf(i))
			}
		}
	}

	// The idempotency record of version 1.
	r, ch := u.NewRequest(approval.Draft{Title: "retry", Payload: json.RawMessage(`{}`)})
	found, err := s.CreateApproval(ctx, r, ch, &approval.Idempotency{Principal: "user:alice", Key: "idem-1", BodyHash: "other", RequestID: r.ID, Response: []byte("{}"), CreatedAt: u.T0.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if found == nil || found.RequestID != u.V1Pending || string(found.Response) != `{"id":"x"}` || found.BodyHash != "body-hash" || !found.CreatedAt.Equal(u.T0) {
		t.Errorf("idempotency record of version 1: %+v", found)
	}

	keys, err := s.ListAPIKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gotKeys := map[string]approval.APIKey{}
	for _, k := range keys {
		gotKeys[k.ID] = k
	}
	if k := gotKeys[u.AdminKey]; k.Name != "admin" || k.Origin != approval.KeyOriginBootstrap || k.RevokedAt != nil || k.ExpiresAt != nil ||
		!k.CreatedAt.Equal(u.T0) || !slices.Equal(k.Scopes, []approval.Scope{approval.ScopeAdmin}) {
		t.Errorf("admin key of version 1: %+v", k)
	}
	if k := gotKeys[u.BillingKey]; k.Name != "billing" || k.Origin != approval.KeyOriginAPI || k.RevokedAt == nil || !k.RevokedAt.Equal(u.T0.Add(time.Hour)) ||
		!slices.Equal(k.Groups, []string{"finance"}) || len(k.Scopes) != 2 {
		t.Errorf("billing key of version 1: %+v", k)
	}
	if k := gotKeys[u.FileKey]; k.Origin != approval.KeyOriginFile || k.ExpiresAt == nil || !k.ExpiresAt.Equal(u.T0.Add(24*time.Hour)) ||
		k.LastUsedAt == nil || !k.LastUsedAt.Equal(u.T0.Add(time.Minute)) {
		t.Errorf("file key of version 6: %+v", k)
	}

	// Service rules: version 2's gets no policy, version 5's keeps its own.
	rule, err := s.GetServiceRule(ctx, "publisher")
	if err != nil {
		t.Fatal(err)
	}
	if rule.URL != "https://publish.example/hook" || rule.Format != approval.FormatStandard || rule.Secret != "shh" || rule.APIKey != "key" ||
		rule.Timeout != 5*time.Second || rule.MaxAttempts != 7 || rule.Policy != "" || !reflect.DeepEqual(rule.Headers, map[string]string{"X-Team": "data"}) {
		t.Errorf("service rule of version 2: %+v", rule)
	}
	if rule, err := s.GetServiceRule(ctx, "strict"); err != nil || rule.Policy != "two-reviewers" || rule.Format != approval.FormatLegacy || len(rule.Headers) != 0 {
		t.Errorf("service rule of version 5: %+v, %v", rule, err)
	}
	if sp, err := s.GetPolicy(ctx, "two-reviewers"); err != nil || sp.Version != 1 || sp.Description != "two" || len(sp.Policy.Rules) != 1 ||
		sp.Match != "" || sp.Priority != 0 {
		t.Errorf("policy of version 5: %+v, %v", sp, err)
	}
	if sp, err := s.GetPolicy(ctx, V12Policy); err != nil || sp.Version != 1 || sp.Description != "v12" || sp.Match != V12Match ||
		sp.Priority != 7 || !sp.CreatedAt.Equal(u.T0) || len(sp.Policy.Rules) != 1 {
		t.Errorf("policy of version 12: %+v, %v", sp, err)
	}
	// The statuses of version 12 are listed.
	for _, st := range []approval.Status{approval.StatusChangesRequested, approval.StatusRevoked} {
		if rs, err := s.ListApprovals(ctx, approval.Filter{Statuses: []approval.Status{st}, Limit: 10}); err != nil || len(rs) != 1 {
			t.Errorf("requests %s after the upgrade: %d, %v; want the one of version 12", st, len(rs), err)
		}
	}

	// The request index: the pending requests of before version 5 were
	// backfilled by Open, version 5's kept.
	inbox, err := s.Inbox(ctx, approval.InboxQuery{Principal: approval.Principal{ID: "user:carol", Scopes: []approval.Scope{approval.ScopeReview}}, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var inboxIDs []string
	for _, r := range inbox {
		inboxIDs = append(inboxIDs, r.ID)
	}
	for _, p := range u.Requests {
		if p.R.Status == approval.StatusPending && !slices.Contains(inboxIDs, p.R.ID) {
			t.Errorf("pending request planted at version %d is not in the inbox", p.V)
		}
	}
	if deps, err := s.Dependents(ctx, u.V1Pending); err != nil || !slices.Contains(deps, u.V5) {
		t.Errorf("dependents of the version 1 request: %v, %v, want %s", deps, err, u.V5)
	}

	// Gateway calls of version 7.
	calls, err := s.ListGatewayCalls(ctx, calllog.Filter{ProjectName: "proj", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || calls[0].Caller != "svc:cr8tor" || calls[0].Route != "/project/package" || calls[0].StartTime != "2025" ||
		calls[0].UpstreamStatus != 200 || calls[0].DurationMicros != 1234 || !calls[0].At.Equal(u.T0) {
		t.Errorf("gateway calls of version 7: %+v", calls)
	}

	checkUpgradedDirectory(t, s, u)

	// The store works on it: an old request is reviewed, a new one made and
	// reviewed, and every chain verifies.
	if _, err := s.UpdateApproval(ctx, u.V1Pending, func(r *approval.Request) (approval.Change, error) {
		return r.Review(u.Reviewer, approval.ReviewInput{Decision: approval.DecisionApprove}, nil, u.T0.Add(time.Hour))
	}); err != nil {
		t.Fatalf("reviewing the request of version 1: %v", err)
	}
	r, ch = u.NewRequest(approval.Draft{Title: "after the upgrade", Payload: json.RawMessage(`{}`), ServiceRule: "publisher"})
	if _, err := s.CreateApproval(ctx, r, ch, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.UpdateApproval(ctx, r.ID, func(r *approval.Request) (approval.Change, error) {
		return r.Review(u.Reviewer, approval.ReviewInput{Decision: approval.DecisionApprove}, nil, u.T0.Add(2*time.Hour))
	}); err != nil || got.Status == approval.StatusPending {
		t.Fatalf("reviewing a new request: %v, %v", got, err)
	}
	chains, err := s.HistoryChains(ctx, approval.ChainFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(chains) != len(u.Requests)+1 {
		t.Errorf("%d history chains, want %d", len(chains), len(u.Requests)+1)
	}
	for _, c := range chains {
		if err := c.Verify(); err != nil {
			t.Errorf("history chain of %s: %v", c.RequestID, err)
		}
	}
}

// WebhookOf returns the webhook of p's event i: p's, on its last event.
func (p *Planted) WebhookOf(i int) string {
	if i == len(p.Changes)-1 {
		return p.Webhook
	}
	return ""
}

// NotifyOf returns the notification p's event i calls for as stored: none
// before version 11, whose events the notifier never plans.
func (p *Planted) NotifyOf(i int) approval.NotifyKind {
	if p.V < 11 {
		return ""
	}
	return p.Changes[i].Event.Notify
}

// The directory rows a rolling-upgrade test plants at version 11, at T0:
// the email channel "mail" with V11Email (version 1); a route of decisions
// about every request to it; user:carol's contact (V11Contact, source
// oidc) and mute of reminders; a delegation from user:carol (groups
// finance) to user:dave for a day, for leave; and a notification to her of
// the review requested of the request of version 11, version 1, key
// V11Key, data {}, due at T0.
const (
	V11Email   = `{"host":"smtp.example","port":587,"tls":"starttls","from":"approvald@example.com"}`
	V11Contact = "carol@example.com"
	V11Key     = "v11|1|user:carol|review_requested"
)

// checkUpgradedDirectory checks the rows of version 11 (see V11Email), and
// that the store plans only the events written since: version 11's.
func checkUpgradedDirectory(t *testing.T, s Store, u Upgraded) {
	t.Helper()
	ctx := t.Context()
	c, err := s.GetChannel(ctx, "mail")
	if err != nil || c.Type != approval.ChannelEmail || c.Email == nil || c.Email.Host != "smtp.example" || c.Email.Port != 587 ||
		c.Email.From != "approvald@example.com" || c.Version != 1 || !c.CreatedAt.Equal(u.T0) {
		t.Errorf("channel of version 11: %+v, %v", c, err)
	}
	routes, err := s.ListRoutes(ctx)
	if err != nil || len(routes) != 1 || routes[0].Channel != "mail" || routes[0].Scope != approval.RouteAll ||
		!slices.Equal(routes[0].Events, []approval.NotifyKind{approval.NotifyDecision}) {
		t.Errorf("routes of version 11: %+v, %v", routes, err)
	}
	contacts, err := s.Contacts(ctx, []string{"user:carol", "user:nobody"})
	if cc, ok := contacts["user:carol"]; err != nil || len(contacts) != 1 || !ok || cc.Email != V11Contact || cc.Source != approval.ContactOIDC || !cc.UpdatedAt.Equal(u.T0) {
		t.Errorf("contacts of version 11: %+v, %v", contacts, err)
	}
	mutes, err := s.Mutes(ctx, []string{"user:carol"})
	if err != nil || !slices.Equal(mutes["user:carol"], []approval.NotifyKind{approval.NotifyReminder}) {
		t.Errorf("mutes of version 11: %+v, %v", mutes, err)
	}
	active, err := s.ActiveDelegations(ctx, "user:dave", u.T0.Add(time.Hour))
	if err != nil || len(active) != 1 || active[0].ID != u.V11Delegation || active[0].Delegator != "user:carol" ||
		!slices.Equal(active[0].DelegatorGroups, []string{"finance"}) || !active[0].Ends.Equal(u.T0.Add(24*time.Hour)) || active[0].Reason != "leave" {
		t.Errorf("active delegations of version 11: %+v, %v", active, err)
	}
	ns, err := s.ListNotifications(ctx, approval.NotificationFilter{Limit: 10})
	if err != nil || len(ns) != 1 || ns[0].Key != V11Key || ns[0].RequestID != u.V11 || ns[0].Recipient != "user:carol" ||
		ns[0].Address != V11Contact || string(ns[0].Data) != "{}" || !ns[0].DueAt.Equal(u.T0) || ns[0].SentAt != nil {
		t.Errorf("notifications of version 11: %+v, %v", ns, err)
	}
	// Only version 11's event calls for a notification: the events of
	// before it never had one planned, and are not planned now.
	recs, err := s.ClaimUnplanned(ctx, u.T0.Add(time.Hour), u.T0.Add(2*time.Hour), 100)
	if err != nil || len(recs) != 1 || recs[0].RequestID != u.V11 || recs[0].Notify != approval.NotifyReviewRequested {
		t.Errorf("ClaimUnplanned after the upgrade: %+v, %v; want the event of version 11's request", recs, err)
	}
	if ids, err := s.DueEscalations(ctx, u.T0.Add(24*time.Hour), 10); err != nil || !slices.Equal(ids, []string{u.V11}) {
		t.Errorf("DueEscalations after the upgrade: %v, %v; want version 11's request", ids, err)
	}
}

// expected returns p's request as the store of this release must read
// it: the fields whose columns came after version p.V hold their defaults.
func (p *Planted) expected() *approval.Request {
	want := p.R.Clone()
	want.SetDependencies(nil)
	if p.V < 12 {
		want.Justification, want.Items, want.ItemOutcome, want.Cycle, want.Revocation = "", nil, nil, 0, nil
	}
	if p.V < 11 {
		want.StageOpenedAt, want.Escalations, want.NextEscalationAt = nil, nil, nil
	}
	if p.V < 5 {
		want.PolicySource, want.DependsOn, want.RemindAfter, want.NextReminderAt, want.Reason = "default", nil, 0, nil, ""
	}
	if p.V < 7 {
		want.Subject, want.Outcome = "", nil
	}
	if p.V < 9 {
		want.Digest, want.PolicyRequest = "", approval.PolicyRequest{}
	}
	return want
}

// upgradeDump encodes what the store keeps of r, with empty lists as null.
func upgradeDump(r *approval.Request) string {
	r = r.Clone()
	if len(r.DependsOn) == 0 {
		r.DependsOn = nil
	}
	b, _ := json.Marshal(struct {
		R             *approval.Request
		Head          string
		PolicyRequest approval.PolicyRequest
	}{r, r.HistoryHead, r.PolicyRequest})
	return string(b)
}
