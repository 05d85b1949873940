package engine_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"approvald/approval"
)

// TestProperty_OnlyAdminsChangeTheDirectory drives the engine through
// random changes of who is told what and who stands in for whom —
// notification channels, routes, contacts, and delegations of someone
// else's reviews — by principals with random scopes. A change succeeds
// exactly when its principal is an admin; a refused one is a missing_scope
// error and changes nothing.
func TestProperty_OnlyAdminsChangeTheDirectory(t *testing.T) {
	b := setup(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, 0))
	if _, err := b.eng.CreateChannel(b.ctx, engineAdmin, approval.NotificationChannel{Name: "base", Type: approval.ChannelSlack, URL: "https://hooks.example.com/base"}); err != nil {
		t.Fatal(err)
	}
	directory := func() string {
		channels, err := b.eng.Channels(b.ctx, engineAdmin)
		if err != nil {
			t.Fatal(err)
		}
		routes, err := b.eng.Routes(b.ctx, engineAdmin)
		if err != nil {
			t.Fatal(err)
		}
		contacts, err := b.eng.Contacts(b.ctx, engineAdmin)
		if err != nil {
			t.Fatal(err)
		}
		delegations, err := b.eng.Delegations(b.ctx, engineAdmin, approval.DelegationFilter{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		j, _ := json.Marshal([]any{channels, routes, contacts, delegations})
		return string(j)
	}
	for step := range 200 {
		p := approval.Principal{ID: fmt.Sprintf("user:p%d", rnd.IntN(5))}
		for _, s := range approval.Scopes() {
			if rnd.IntN(3) == 0 {
				p.Scopes = append(p.Scopes, s)
			}
		}
		name := fmt.Sprintf("n%d", step)
		var op string
		var call func() error
		switch rnd.IntN(5) {
		case 0:
			op, call = "create channel", func() error {
				_, err := b.eng.CreateChannel(b.ctx, p, approval.NotificationChannel{Name: name, Type: approval.ChannelTeams, URL: "https://hooks.example.com/" + name})
				return err
			}
		case 1:
			op, call = "create route", func() error {
				_, err := b.eng.CreateRoute(b.ctx, p, approval.NotificationRoute{Channel: "base", Scope: "service_rule:" + name})
				return err
			}
		case 2:
			op, call = "set contact", func() error {
				_, err := b.eng.PutContact(b.ctx, p, approval.Contact{Principal: "user:" + name, Email: name + "@example.com"})
				return err
			}
		case 3:
			op, call = "set group contact", func() error {
				_, err := b.eng.PutContact(b.ctx, p, approval.Contact{Group: name, Channel: "base"})
				return err
			}
		default:
			op, call = "delegate someone else's reviews", func() error {
				_, err := b.eng.CreateDelegation(b.ctx, p, approval.Delegation{Delegator: "user:other", Delegate: "user:" + name, Ends: b.clock.Now().Add(time.Hour)})
				return err
			}
		}
		before := directory()
		err := call()
		if !p.IsAdmin() {
			if approval.KindOf(err) != approval.KindForbidden || approval.AsError(err).Code != approval.CodeMissingScope {
				t.Fatalf("step %d: %s by %+v: %v, want missing_scope", step, op, p, err)
			}
			if directory() != before {
				t.Fatalf("step %d: a refused %s by %+v changed the directory", step, op, p)
			}
			continue
		}
		if err != nil {
			t.Fatalf("step %d: %s by an admin %+v: %v", step, op, p, err)
		}
		if directory() == before {
			t.Fatalf("step %d: %s by an admin %+v changed nothing", step, op, p)
		}
	}
}
