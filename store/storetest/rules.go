package storetest

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"approvald/approval"
)

// newRule returns a rule named name as the engine would store it, created at t0.
func newRule(name string) *approval.ServiceRule {
	return &approval.ServiceRule{
		Name: name, URL: "https://" + name + ".example/hooks/approvald", Format: approval.FormatStandard,
		Secret: "whsec_dGVzdC1zZWNyZXQtZm9yLXRoZS1zdG9yZS1zdWl0ZQ==", Timeout: 2500 * time.Millisecond, MaxAttempts: 5,
		Headers: map[string]string{"X-Team": "finance", "X-Env": "prod"}, CreatedAt: t0, UpdatedAt: t0,
	}
}

// createRule stores rule r and returns the test's copy of it.
func createRule(t *testing.T, s Store, r *approval.ServiceRule) *approval.ServiceRule {
	t.Helper()
	if err := s.CreateServiceRule(t.Context(), r); err != nil {
		t.Fatalf("CreateServiceRule(%s): %v", r.Name, err)
	}
	return r
}

// rules checks that ListServiceRules returns want.
func rules(t *testing.T, s Store, want ...approval.ServiceRule) {
	t.Helper()
	got, err := s.ListServiceRules(t.Context())
	if err != nil {
		t.Fatalf("ListServiceRules: %v", err)
	}
	if len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
		t.Errorf("ListServiceRules:\n got %+v\nwant %+v", got, want)
	}
}

// ruleIs checks that the rule of r's name, and of r's id, reads back as r.
func ruleIs(t *testing.T, s Store, r *approval.ServiceRule) {
	t.Helper()
	byName, err := s.GetServiceRule(t.Context(), r.Name)
	if err != nil || !reflect.DeepEqual(byName, r) {
		t.Errorf("GetServiceRule(%s) = %+v, %v; want %+v", r.Name, byName, err, r)
	}
	byID, err := s.GetServiceRuleByID(t.Context(), r.ID)
	if err != nil || !reflect.DeepEqual(byID, r) {
		t.Errorf("GetServiceRuleByID(%d) = %+v, %v; want %+v", r.ID, byID, err, r)
	}
}

func testServiceRules(t *testing.T, s Store) {
	ctx := t.Context()
	billing := createRule(t, s, newRule("billing"))
	legacy := createRule(t, s, &approval.ServiceRule{
		Name: "stash", URL: "http://stash.internal/callback", Format: approval.FormatLegacy, APIKey: "stash-key",
		Timeout: time.Second, MaxAttempts: 1, CreatedAt: at(time.Minute),
	})
	switch {
	case billing.ID <= 0 || legacy.ID <= billing.ID:
		t.Errorf("rules got ids %d and %d, want positive and increasing", billing.ID, legacy.ID)
	case legacy.Headers == nil || len(legacy.Headers) != 0:
		t.Errorf("nil headers were stored as %#v, want an empty map", legacy.Headers)
	case !legacy.UpdatedAt.Equal(legacy.CreatedAt):
		t.Errorf("a rule created without an update time has %v, want its creation time %v", legacy.UpdatedAt, legacy.CreatedAt)
	}
	ruleIs(t, s, billing) // secret, timeout and headers round trip
	ruleIs(t, s, legacy)
	rules(t, s, *billing, *legacy)

	// Neither name nor id finds anything else.
	_, err := s.GetServiceRule(ctx, "nope")
	wantKind(t, "GetServiceRule of an unknown name", err, approval.KindNotFound)
	_, err = s.GetServiceRuleByID(ctx, legacy.ID+100)
	wantKind(t, "GetServiceRuleByID of an unknown id", err, approval.KindNotFound)

	dup := newRule("billing")
	dup.URL = "https://elsewhere.example/"
	wantKind(t, "CreateServiceRule with a taken name", s.CreateServiceRule(ctx, dup), approval.KindConflict)
	rules(t, s, *billing, *legacy)

	// An update stores what fn made of the rule.
	got, err := s.UpdateServiceRule(ctx, "billing", func(r *approval.ServiceRule) error {
		if !reflect.DeepEqual(r, billing) {
			t.Errorf("UpdateServiceRule passed fn %+v, want the stored %+v", r, billing)
		}
		r.URL = "https://billing.example/v2"
		r.Headers = map[string]string{"X-Team": "finance ✓"}
		r.Timeout, r.MaxAttempts, r.UpdatedAt = 30*time.Second, 12, at(time.Hour)
		return nil
	})
	billing.URL = "https://billing.example/v2"
	billing.Headers = map[string]string{"X-Team": "finance ✓"}
	billing.Timeout, billing.MaxAttempts, billing.UpdatedAt = 30*time.Second, 12, at(time.Hour)
	if err != nil || !reflect.DeepEqual(got, billing) {
		t.Errorf("UpdateServiceRule = %+v, %v; want %+v", got, err, billing)
	}
	ruleIs(t, s, billing)

	// An update that fails, or would rename the rule, stores nothing.
	errBoom := errors.New("boom")
	_, err = s.UpdateServiceRule(ctx, "billing", func(r *approval.ServiceRule) error {
		r.URL = "https://changed.example/"
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Errorf("UpdateServiceRule with a failing fn = %v, want its error", err)
	}
	for what, fn := range map[string]func(*approval.ServiceRule){
		"name":          func(r *approval.ServiceRule) { r.Name = "renamed" },
		"id":            func(r *approval.ServiceRule) { r.ID++ },
		"creation time": func(r *approval.ServiceRule) { r.CreatedAt = at(time.Hour) },
	} {
		_, err = s.UpdateServiceRule(ctx, "billing", func(r *approval.ServiceRule) error {
			fn(r)
			r.URL = "https://changed.example/"
			return nil
		})
		wantKind(t, "UpdateServiceRule changing the "+what, err, approval.KindInternal)
	}
	ruleIs(t, s, billing)
	_, err = s.UpdateServiceRule(ctx, "nope", func(*approval.ServiceRule) error {
		t.Error("UpdateServiceRule of an unknown name called fn")
		return nil
	})
	wantKind(t, "UpdateServiceRule of an unknown name", err, approval.KindNotFound)

	// Deleting; the id of a deleted rule is never handed out again.
	wantKind(t, "DeleteServiceRule of an unknown name", s.DeleteServiceRule(ctx, "nope"), approval.KindNotFound)
	if err := s.DeleteServiceRule(ctx, "stash"); err != nil {
		t.Fatalf("DeleteServiceRule of an unused rule: %v", err)
	}
	_, err = s.GetServiceRule(ctx, "stash")
	wantKind(t, "GetServiceRule of a deleted rule", err, approval.KindNotFound)
	_, err = s.GetServiceRuleByID(ctx, legacy.ID)
	wantKind(t, "GetServiceRuleByID of a deleted rule", err, approval.KindNotFound)
	wantKind(t, "DeleteServiceRule again", s.DeleteServiceRule(ctx, "stash"), approval.KindNotFound)
	again := createRule(t, s, newRule("stash"))
	if again.ID <= legacy.ID {
		t.Errorf("a rule created after deleting rule %d got id %d, want a new, higher one", legacy.ID, again.ID)
	}
	rules(t, s, *billing, *again)
}

// testDeleteServiceRuleInUse deletes a rule while a request names it, in
// each status that is not final, and after it settles.
func testDeleteServiceRuleInUse(t *testing.T, s Store) {
	createRule(t, s, newRule("r1"))
	createRule(t, s, newRule("r2"))
	deleteIsConflict := func(when string) {
		t.Helper()
		err := s.DeleteServiceRule(t.Context(), "r1")
		wantKind(t, "DeleteServiceRule "+when, err, approval.KindConflict)
		if err != nil && !strings.Contains(err.Error(), "1 request") {
			t.Errorf("DeleteServiceRule %s: %q does not say how many requests use the rule", when, err)
		}
		if _, err := s.GetServiceRule(t.Context(), "r1"); err != nil {
			t.Errorf("the refused delete %s deleted the rule: %v", when, err)
		}
	}
	// Requests that do not count: final ones, and those of other rules.
	done := create(t, s, alice, approval.Draft{ServiceRule: "r1"}, approval.DefaultPolicy())
	step(t, s, done, cancelOp(alice, at(time.Minute)))
	step(t, s, done, deliveredOp(at(2*time.Minute)))
	create(t, s, alice, approval.Draft{ServiceRule: "r2"}, approval.DefaultPolicy())

	r := create(t, s, alice, approval.Draft{ServiceRule: "r1"}, approval.DefaultPolicy())
	deleteIsConflict("while a pending request names it")
	step(t, s, r, reviewOp(reviewer("dave"), approval.DecisionApprove, at(time.Minute)))
	deleteIsConflict("while an acknowledged request names it")
	step(t, s, r, failedOp("HTTP 500", at(2*time.Minute)))
	deleteIsConflict("while a request in error names it")
	step(t, s, r, reviewOp(reviewer("erin"), approval.DecisionReject, at(3*time.Minute)))
	step(t, s, r, deliveredOp(at(4*time.Minute)))
	if r.Status != approval.StatusRejected {
		t.Fatalf("the test's request is %v, want rejected", r.Status)
	}
	if err := s.DeleteServiceRule(t.Context(), "r1"); err != nil {
		t.Errorf("DeleteServiceRule once every request naming it is final: %v", err)
	}
	if err := s.DeleteServiceRule(t.Context(), "r2"); approval.KindOf(err) != approval.KindConflict {
		t.Errorf("DeleteServiceRule of r2, which a pending request names = %v, want a conflict", err)
	}
}

func deliveredOp(now time.Time) op {
	return func(r *approval.Request) (approval.Change, error) { return r.Delivered(1, now), nil }
}

func failedOp(reason string, now time.Time) op {
	return func(r *approval.Request) (approval.Change, error) { return r.DeliveryFailed(3, reason, now), nil }
}
