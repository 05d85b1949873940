package storetest

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"approvald/approval"
)

// newPolicy returns a stored policy named name as the engine would store
// it: a staged policy, normalized, created at t0 plus a microsecond-precise
// offset (the store sets the version).
func newPolicy(name string) *approval.StoredPolicy {
	pol := approval.Policy{Stages: []approval.Stage{
		{Name: "owners", Rules: []approval.Rule{{MinApprovals: 1, Principals: []string{"user:carol", "user:dave"}}}},
		{Name: "finance", Rules: []approval.Rule{{MinApprovals: 2, Groups: []string{"finance"}, RejectThreshold: 2}}},
	}, AllowSelfReview: true}
	pol.Normalize()
	created := at(3*time.Second + 7*time.Microsecond)
	return &approval.StoredPolicy{
		Name: name, Description: "Owners, then finance ✓", Policy: pol,
		CreatedAt: created, UpdatedAt: created,
	}
}

// policyIs checks that GetPolicy(want.Name) returns want.
func policyIs(t *testing.T, s Store, want *approval.StoredPolicy) {
	t.Helper()
	got, err := s.GetPolicy(t.Context(), want.Name)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("GetPolicy(%s) = %+v, %v; want %+v", want.Name, got, err, want)
	}
}

// policies checks that ListPolicies returns want.
func policies(t *testing.T, s Store, want ...approval.StoredPolicy) {
	t.Helper()
	got, err := s.ListPolicies(t.Context())
	if err != nil {
		t.Fatalf("ListPolicies: %v", err)
	}
	if len(got) != len(want) || (len(want) > 0 && !reflect.DeepEqual(got, want)) {
		t.Errorf("ListPolicies:\n got %+v\nwant %+v", got, want)
	}
}

func testPolicies(t *testing.T, s Store) {
	ctx := t.Context()
	policies(t, s)
	_, err := s.GetPolicy(ctx, "nope")
	wantKind(t, "GetPolicy of an unknown name", err, approval.KindNotFound)

	// Created at version 1, read back exactly, listed by name.
	release := newPolicy("release")
	if err := s.CreatePolicy(ctx, release); err != nil {
		t.Fatalf("CreatePolicy: %v", err)
	}
	if release.Version != 1 {
		t.Errorf("CreatePolicy set version %d, want 1", release.Version)
	}
	audit := newPolicy("audit")
	audit.Policy = approval.DefaultPolicy()
	audit.Description = ""
	if err := s.CreatePolicy(ctx, audit); err != nil {
		t.Fatalf("CreatePolicy: %v", err)
	}
	policyIs(t, s, release)
	policyIs(t, s, audit)
	policies(t, s, *audit, *release)

	dup := newPolicy("release")
	dup.Description = "another"
	wantKind(t, "CreatePolicy with a taken name", s.CreatePolicy(ctx, dup), approval.KindConflict)
	policyIs(t, s, release)

	// Each update stores what fn made of the policy, one version up.
	for i, desc := range []string{"second", "third"} {
		got, err := s.UpdatePolicy(ctx, "release", func(p *approval.StoredPolicy) error {
			if !reflect.DeepEqual(p, release) {
				t.Errorf("UpdatePolicy passed fn %+v, want the stored %+v", p, release)
			}
			p.Description = desc
			p.Policy = approval.Policy{Rules: []approval.Rule{{Name: "two", MinApprovals: 2 + i, RejectThreshold: 1}}}
			p.UpdatedAt = at(time.Duration(i+1) * time.Hour)
			return nil
		})
		release.Description = desc
		release.Policy = approval.Policy{Rules: []approval.Rule{{Name: "two", MinApprovals: 2 + i, RejectThreshold: 1}}}
		release.UpdatedAt = at(time.Duration(i+1) * time.Hour)
		release.Version = int64(2 + i)
		if err != nil || !reflect.DeepEqual(got, release) {
			t.Errorf("UpdatePolicy %d = %+v, %v; want %+v", i+1, got, err, release)
		}
		policyIs(t, s, release)
	}

	// An update that fails, or would rename the policy, stores nothing.
	errBoom := errors.New("boom")
	_, err = s.UpdatePolicy(ctx, "release", func(p *approval.StoredPolicy) error {
		p.Description = "changed"
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Errorf("UpdatePolicy with a failing fn = %v, want its error", err)
	}
	_, err = s.UpdatePolicy(ctx, "release", func(p *approval.StoredPolicy) error {
		p.Name = "renamed"
		return nil
	})
	wantKind(t, "UpdatePolicy changing the name", err, approval.KindInternal)
	policyIs(t, s, release)
	_, err = s.UpdatePolicy(ctx, "nope", func(*approval.StoredPolicy) error {
		t.Error("UpdatePolicy of an unknown name called fn")
		return nil
	})
	wantKind(t, "UpdatePolicy of an unknown name", err, approval.KindNotFound)

	// Deleting.
	wantKind(t, "DeletePolicy of an unknown name", s.DeletePolicy(ctx, "nope"), approval.KindNotFound)
	if err := s.DeletePolicy(ctx, "audit"); err != nil {
		t.Fatalf("DeletePolicy: %v", err)
	}
	_, err = s.GetPolicy(ctx, "audit")
	wantKind(t, "GetPolicy of a deleted policy", err, approval.KindNotFound)
	wantKind(t, "DeletePolicy again", s.DeletePolicy(ctx, "audit"), approval.KindNotFound)
	policies(t, s, *release)
}

// wantPolicyField fails the test unless err is a KindInvalid error on the
// field policy.
func wantPolicyField(t *testing.T, what string, err error) {
	t.Helper()
	wantKind(t, what, err, approval.KindInvalid)
	if e := approval.AsError(err); e == nil || len(e.Fields) != 1 || e.Fields[0].Field != "policy" {
		t.Errorf("%s: error %v, want one invalid field, policy", what, err)
	}
}

// testServiceRulePolicies checks that service rules name only stored
// policies and that a named policy cannot be deleted.
func testServiceRulePolicies(t *testing.T, s Store) {
	ctx := t.Context()
	if err := s.CreatePolicy(ctx, newPolicy("release")); err != nil {
		t.Fatalf("CreatePolicy: %v", err)
	}

	missing := newRule("billing")
	missing.Policy = "nope"
	wantPolicyField(t, "CreateServiceRule naming a missing policy", s.CreateServiceRule(ctx, missing))
	_, err := s.GetServiceRule(ctx, "billing")
	wantKind(t, "GetServiceRule of the refused rule", err, approval.KindNotFound)

	billing := newRule("billing")
	billing.Policy = "release"
	createRule(t, s, billing)
	ruleIs(t, s, billing)
	plain := createRule(t, s, newRule("plain")) // no policy: the default
	ruleIs(t, s, plain)

	_, err = s.UpdateServiceRule(ctx, "plain", func(r *approval.ServiceRule) error {
		r.Policy = "nope"
		return nil
	})
	wantPolicyField(t, "UpdateServiceRule naming a missing policy", err)
	ruleIs(t, s, plain)

	err = s.DeletePolicy(ctx, "release")
	wantKind(t, "DeletePolicy while a rule names it", err, approval.KindConflict)
	if _, err := s.GetPolicy(ctx, "release"); err != nil {
		t.Errorf("the refused DeletePolicy deleted the policy: %v", err)
	}

	// Another rule takes the policy; once neither names it, it can go.
	got, err := s.UpdateServiceRule(ctx, "plain", func(r *approval.ServiceRule) error {
		r.Policy = "release"
		return nil
	})
	if err != nil || got.Policy != "release" {
		t.Fatalf("UpdateServiceRule naming a stored policy = %+v, %v", got, err)
	}
	if err := s.DeleteServiceRule(ctx, "billing"); err != nil {
		t.Fatalf("DeleteServiceRule: %v", err)
	}
	wantKind(t, "DeletePolicy while the other rule names it", s.DeletePolicy(ctx, "release"), approval.KindConflict)
	if _, err := s.UpdateServiceRule(ctx, "plain", func(r *approval.ServiceRule) error {
		r.Policy = ""
		return nil
	}); err != nil {
		t.Fatalf("UpdateServiceRule clearing the policy: %v", err)
	}
	if err := s.DeletePolicy(ctx, "release"); err != nil {
		t.Errorf("DeletePolicy once no rule names it: %v", err)
	}
}
