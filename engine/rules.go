package engine

import (
	"context"

	"approvald/approval"
)

// WithPrivateTargets sets whether service rules may point at loopback and
// private addresses (they may by default: receivers are often internal).
func WithPrivateTargets(allow bool) Option { return func(e *Engine) { e.allowPrivate = allow } }

// CreateRule validates r (generating a signing secret for the standard
// format when none is given) and stores it on behalf of p, who must be an
// admin (a KindForbidden error otherwise). The returned rule still holds
// its secret, for the one response that shows it.
func (e *Engine) CreateRule(ctx context.Context, p approval.Principal, r approval.ServiceRule) (*approval.ServiceRule, error) {
	if err := mayAdminister(p, "creating a service rule"); err != nil {
		return nil, err
	}
	if err := r.Validate(e.allowPrivate); err != nil {
		return nil, err
	}
	now := e.Now()
	r.ID, r.CreatedAt, r.UpdatedAt = 0, now, now
	defer e.rules.invalidate()
	if err := e.store.CreateServiceRule(ctx, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// UpdateRule applies edit to the rule named name on behalf of p, who must
// be an admin (a KindForbidden error otherwise), and validates the result.
func (e *Engine) UpdateRule(ctx context.Context, p approval.Principal, name string, edit func(*approval.ServiceRule)) (*approval.ServiceRule, error) {
	if err := mayAdminister(p, "changing a service rule"); err != nil {
		return nil, err
	}
	defer e.rules.invalidate()
	return e.store.UpdateServiceRule(ctx, name, func(r *approval.ServiceRule) error {
		edit(r)
		if err := r.Validate(e.allowPrivate); err != nil {
			return err
		}
		r.UpdatedAt = e.Now()
		return nil
	})
}

// Rule returns the service rule named name.
func (e *Engine) Rule(ctx context.Context, name string) (*approval.ServiceRule, error) {
	return e.store.GetServiceRule(ctx, name)
}

// Rules returns every service rule.
func (e *Engine) Rules(ctx context.Context) ([]approval.ServiceRule, error) {
	return e.store.ListServiceRules(ctx)
}

// DeleteRule deletes the rule named name on behalf of p, who must be an
// admin (a KindForbidden error otherwise); a rule that a request which is
// not final names is a KindConflict error.
func (e *Engine) DeleteRule(ctx context.Context, p approval.Principal, name string) error {
	if err := mayAdminister(p, "deleting a service rule"); err != nil {
		return err
	}
	defer e.rules.invalidate()
	return e.store.DeleteServiceRule(ctx, name)
}

// checkRule returns the rule named name (nil for ""), through the cache, or
// a validation error naming the service_rule field when there is none.
func (e *Engine) checkRule(ctx context.Context, name string) (*approval.ServiceRule, error) {
	if name == "" {
		return nil, nil
	}
	r, err := e.CachedRule(ctx, name)
	if approval.KindOf(err) == approval.KindNotFound {
		var v approval.Validation
		v.Add("service_rule", "no service rule named %q exists", name)
		return nil, v.Err()
	}
	return r, err
}

// Redeliver sends the failed decision of the request again (admin only).
func (e *Engine) Redeliver(ctx context.Context, p approval.Principal, id string, expect *int64) (*approval.Request, error) {
	return e.update(ctx, id, func(r *approval.Request) (approval.Change, error) {
		return r.Redeliver(p, expect, e.Now())
	})
}

// mayAdminister returns the error the API's route table gives a caller
// without the admin scope — KindForbidden, CodeMissingScope — when p is not
// an admin, so that what only admins may do is refused by the engine too,
// whichever face the call came through.
func mayAdminister(p approval.Principal, what string) error {
	if p.Has(approval.ScopeAdmin) {
		return nil
	}
	return approval.Errorf(approval.KindForbidden, approval.CodeMissingScope,
		"%s needs the %s scope, which %s does not have", what, approval.ScopeAdmin, p.ID)
}
