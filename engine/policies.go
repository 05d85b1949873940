package engine

import (
	"context"

	"approvald/approval"
	"approvald/celrule"
)

// Policy sources, as a request's PolicySource records them.
const (
	SourceDefault = "default"
)

// mandate resolves the policy an admin mandates for a request on rule (nil
// for none) whose requester asked for the stored policy name ("" for
// none): the policy of the rule when it names one — then a different name
// is refused —, else the named stored policy, else the stored policy whose
// match expression selects the request described by in (see matchPolicy),
// else the server default. Stored policies are written by admins; what a
// requester adds inline is combined with the mandate by approval.Combine.
func (e *Engine) mandate(ctx context.Context, rule *approval.ServiceRule, name string, in celrule.Input) (approval.Mandate, error) {
	var v approval.Validation
	switch {
	case rule != nil && rule.Policy != "":
		if name != "" && name != rule.Policy {
			v.Add("policy_name", "service rule %q mandates the stored policy %q; add requirements with an inline policy instead", rule.Name, rule.Policy)
			return approval.Mandate{}, v.Err()
		}
		sp, err := e.store.GetPolicy(ctx, rule.Policy)
		if err != nil {
			// The store keeps rules from naming missing policies; a
			// missing one here is a bug, not the caller's fault.
			return approval.Mandate{}, approval.Internal(err)
		}
		return approval.Mandate{Policy: sp.Policy, Source: "service_rule:" + rule.Name}, nil
	case name != "":
		sp, err := e.store.GetPolicy(ctx, name)
		if approval.KindOf(err) == approval.KindNotFound {
			v.Add("policy_name", "there is no stored policy %q", name)
			return approval.Mandate{}, v.Err()
		}
		if err != nil {
			return approval.Mandate{}, err
		}
		return approval.Mandate{Policy: sp.Policy, Source: "policy:" + sp.Name}, nil
	}
	sp, err := e.matchPolicy(ctx, in)
	if err != nil {
		return approval.Mandate{}, err
	}
	if sp != nil {
		return approval.Mandate{Policy: sp.Policy, Source: "policy:" + sp.Name}, nil
	}
	return approval.Mandate{Policy: e.defaultPolicy.Clone(), Source: SourceDefault}, nil
}

// WithDefaultPolicy sets the policy of requests that choose none and whose
// service rule names none (by default approval.DefaultPolicy).
func WithDefaultPolicy(p approval.Policy) Option { return func(e *Engine) { e.defaultPolicy = p } }

// CreatePolicy validates and stores a new named policy on behalf of p, who
// must be an admin (a KindForbidden error otherwise).
func (e *Engine) CreatePolicy(ctx context.Context, p approval.Principal, sp approval.StoredPolicy) (*approval.StoredPolicy, error) {
	if err := mayAdminister(p, "creating a policy"); err != nil {
		return nil, err
	}
	sp.Policy = sp.Policy.Clone() // Validate normalizes it: never the caller's slices
	if err := validateStored(&sp); err != nil {
		return nil, err
	}
	now := e.Now()
	sp.Version, sp.CreatedAt, sp.UpdatedAt = 1, now, now
	if err := e.store.CreatePolicy(ctx, &sp); err != nil {
		return nil, err
	}
	return &sp, nil
}

// ReplacePolicy replaces the description and policy of the stored policy
// name on behalf of p, who must be an admin (a KindForbidden error
// otherwise). expect, when set, must equal its current version (If-Match).
// Requests keep the copy they were created with.
func (e *Engine) ReplacePolicy(ctx context.Context, p approval.Principal, name string, with approval.StoredPolicy, expect *int64) (*approval.StoredPolicy, error) {
	if err := mayAdminister(p, "replacing a policy"); err != nil {
		return nil, err
	}
	return e.store.UpdatePolicy(ctx, name, func(sp *approval.StoredPolicy) error {
		if expect != nil && *expect != sp.Version {
			return approval.Errorf(approval.KindPrecondition, approval.CodeVersionMismatch, "policy is at version %d, not %d", sp.Version, *expect)
		}
		sp.Description, sp.Policy = with.Description, with.Policy.Clone() // as in CreatePolicy
		sp.Match, sp.Priority = with.Match, with.Priority
		if err := validateStored(sp); err != nil {
			return err
		}
		sp.UpdatedAt = e.Now()
		return nil
	})
}

// validateStored validates sp (see approval.StoredPolicy.Validate) and
// compiles its expressions — its match and its rules' auto_approve_if and
// auto_reject_if — naming those that do not compile with CEL's line and
// column, all in one KindInvalid error.
func validateStored(sp *approval.StoredPolicy) error {
	if err := sp.Validate(); err != nil {
		return err
	}
	var v approval.Validation
	celrule.CheckMatch(&v, sp.Match)
	celrule.CheckPolicy(&v, "policy", sp.Policy)
	return v.Err()
}

// Policy returns the stored policy name.
func (e *Engine) Policy(ctx context.Context, name string) (*approval.StoredPolicy, error) {
	return e.store.GetPolicy(ctx, name)
}

// Policies returns every stored policy.
func (e *Engine) Policies(ctx context.Context) ([]approval.StoredPolicy, error) {
	return e.store.ListPolicies(ctx)
}

// DeletePolicy deletes the stored policy name on behalf of p, who must be
// an admin (a KindForbidden error otherwise); while a service rule names
// it, that is a KindConflict error.
func (e *Engine) DeletePolicy(ctx context.Context, p approval.Principal, name string) error {
	if err := mayAdminister(p, "deleting a policy"); err != nil {
		return err
	}
	return e.store.DeletePolicy(ctx, name)
}
