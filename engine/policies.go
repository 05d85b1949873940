package engine

import (
	"context"

	"approvald/approval"
)

// Policy sources, as a request's PolicySource records them.
const (
	SourceInline  = "inline"
	SourceDefault = "default"
)

// resolvePolicy returns the policy of a new request and where it came
// from: the inline policy of the draft, else the stored policy it names,
// else the policy of its service rule (rule, nil when it names none), else
// the server default.
func (e *Engine) resolvePolicy(ctx context.Context, d approval.Draft, rule *approval.ServiceRule) (approval.Policy, string, error) {
	switch {
	case d.Policy != nil && d.PolicyName != "":
		var v approval.Validation
		v.Add("policy_name", "give policy or policy_name, not both")
		return approval.Policy{}, "", v.Err()
	case d.Policy != nil:
		return d.Policy.Clone(), SourceInline, nil
	case d.PolicyName != "":
		sp, err := e.store.GetPolicy(ctx, d.PolicyName)
		if approval.KindOf(err) == approval.KindNotFound {
			var v approval.Validation
			v.Add("policy_name", "there is no stored policy %q", d.PolicyName)
			return approval.Policy{}, "", v.Err()
		}
		if err != nil {
			return approval.Policy{}, "", err
		}
		return sp.Policy, "policy:" + sp.Name, nil
	case rule != nil:
		if rule.Policy == "" {
			break
		}
		sp, err := e.store.GetPolicy(ctx, rule.Policy)
		if err != nil {
			// The store keeps rules from naming missing policies; a
			// missing one here is a bug, not the caller's fault.
			return approval.Policy{}, "", approval.Internal(err)
		}
		return sp.Policy, "service_rule:" + rule.Name, nil
	}
	return e.defaultPolicy.Clone(), SourceDefault, nil
}

// WithDefaultPolicy sets the policy of requests that choose none and whose
// service rule names none (by default approval.DefaultPolicy).
func WithDefaultPolicy(p approval.Policy) Option { return func(e *Engine) { e.defaultPolicy = p } }

// CreatePolicy validates and stores a new named policy.
func (e *Engine) CreatePolicy(ctx context.Context, sp approval.StoredPolicy) (*approval.StoredPolicy, error) {
	if err := sp.Validate(); err != nil {
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
// name. expect, when set, must equal its current version (If-Match).
// Requests keep the copy they were created with.
func (e *Engine) ReplacePolicy(ctx context.Context, name string, with approval.StoredPolicy, expect *int64) (*approval.StoredPolicy, error) {
	return e.store.UpdatePolicy(ctx, name, func(sp *approval.StoredPolicy) error {
		if expect != nil && *expect != sp.Version {
			return approval.Errorf(approval.KindPrecondition, approval.CodeVersionMismatch, "policy is at version %d, not %d", sp.Version, *expect)
		}
		sp.Description, sp.Policy = with.Description, with.Policy
		if err := sp.Validate(); err != nil {
			return err
		}
		sp.UpdatedAt = e.Now()
		return nil
	})
}

// Policy returns the stored policy name.
func (e *Engine) Policy(ctx context.Context, name string) (*approval.StoredPolicy, error) {
	return e.store.GetPolicy(ctx, name)
}

// Policies returns every stored policy.
func (e *Engine) Policies(ctx context.Context) ([]approval.StoredPolicy, error) {
	return e.store.ListPolicies(ctx)
}

// DeletePolicy deletes the stored policy name; while a service rule names
// it, that is a KindConflict error.
func (e *Engine) DeletePolicy(ctx context.Context, name string) error {
	return e.store.DeletePolicy(ctx, name)
}
