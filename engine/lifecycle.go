package engine

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"approvald/approval"
	"approvald/celrule"
)

// Resubmit sends a request in changes_requested back to pending on behalf
// of p (its requester or an admin), voiding the reviews before it (see
// approval.Request.Resubmit); the rules' automatic decisions are then
// made afresh (see autoDecide).
func (e *Engine) Resubmit(ctx context.Context, p approval.Principal, id string, expect *int64) (*approval.Request, error) {
	r, err := e.update(ctx, id, func(r *approval.Request) (approval.Change, error) {
		return r.Resubmit(p, expect, e.Now())
	})
	if err != nil {
		return nil, err
	}
	return e.autoDecide(ctx, p, r), nil
}

// Revoke takes back the approval of an approved request on behalf of p (an
// admin, or an eligible reviewer of a rule marked can_revoke), with a
// required reason; the revocation is delivered to the service rule (see
// approval.Request.Revoke). Requests that depend on it and are still
// pending are then rejected, as for any dependency that can no longer be
// approved.
func (e *Engine) Revoke(ctx context.Context, p approval.Principal, id, reason string, expect *int64) (*approval.Request, error) {
	return e.update(ctx, id, func(r *approval.Request) (approval.Change, error) {
		return r.Revoke(p, reason, expect, e.Now())
	})
}

// exprTimeout bounds the evaluation of one request's expressions, on top
// of celrule's cost limit.
const exprTimeout = time.Second

// autoDecide makes the automatic decisions r's rules call for, after a
// change by p that may have made some (a create, an edit, a resubmission):
// each one its own change through apply, by approval.AutoPrincipal of the
// request's policy, until no rule of the open stage is decided by its
// expressions. An expression that does not compile or whose evaluation
// fails decides nothing (fail closed) and is logged. It returns the request
// as it is afterwards; an error of the store is logged and r returned as
// the caller's change left it.
//
// The expressions see the requester's groups only when p is the requester
// (the request does not record them): after an admin's change they see
// none.
func (e *Engine) autoDecide(ctx context.Context, p approval.Principal, r *approval.Request) *approval.Request {
	if len(r.AutoRules()) == 0 {
		return r
	}
	var groups []string
	if p.ID == r.Requester {
		groups = p.Groups
	}
	name := e.policyName(ctx, r.PolicySource)
	// Each decision may open a stage whose rules decide in turn; a
	// policy has at most MaxPolicyRules rules.
	for range approval.MaxPolicyRules + 1 {
		out, ch, err := e.apply(ctx, "engine.auto_decide", r.ID, nil, func(cur *approval.Request) (approval.Change, error) {
			return e.autoChange(ctx, cur, name, groups)
		})
		if err != nil {
			e.log.Error("automatic decision failed", "request_id", r.ID, "err", err)
			return r
		}
		r = out
		if ch.IsZero() {
			break
		}
		e.followUp(ctx, r)
	}
	return r
}

// autoChange returns the change of the first automatic decision r's open
// stage calls for now, a zero Change for none: a rule's auto_reject_if is
// evaluated first, then its auto_approve_if (AutoRules leaves it out when
// the policy forbids automatic approval).
func (e *Engine) autoChange(ctx context.Context, r *approval.Request, policy string, groups []string) (approval.Change, error) {
	rules := r.AutoRules()
	if len(rules) == 0 {
		return approval.Change{}, nil
	}
	now := e.Now()
	in := celrule.Input{Payload: r.Payload, Requester: r.Requester, Groups: groups, ServiceRule: r.ServiceRule, Items: r.Items, Now: now}
	vars, err := celrule.Prepare(in)
	if err != nil {
		e.log.Warn("automatic decisions skipped: the request's input does not evaluate", "request_id", r.ID, "err", err)
		return approval.Change{}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, exprTimeout)
	defer cancel()
	holds := func(rule, expr string) bool {
		if expr == "" {
			return false
		}
		prg, err := celrule.Compile(expr)
		if err == nil {
			var ok bool
			if ok, err = prg.EvalVars(ctx, vars); err == nil {
				return ok
			}
		}
		e.log.Warn("an automatic decision's expression failed; nothing decided", "request_id", r.ID, "rule", rule, "err", err)
		return false
	}
	for _, ar := range rules {
		d, expr := approval.Decision(""), ""
		switch {
		case holds(ar.Rule, ar.RejectIf):
			d, expr = approval.DecisionReject, ar.RejectIf
		case holds(ar.Rule, ar.ApproveIf):
			d, expr = approval.DecisionApprove, ar.ApproveIf
		default:
			continue
		}
		return r.AutoDecide(d, approval.AutoDecision{Policy: policy, Rule: ar.Rule, Expression: expr, Inputs: celrule.Inputs(in)}, now)
	}
	return approval.Change{}, nil
}

// policyName names the policy of a request whose PolicySource is source,
// for approval.AutoPrincipal: the stored policy it came from (by name, or
// the one its service rule names), "default", or "override" for an
// admin's.
func (e *Engine) policyName(ctx context.Context, source string) string {
	source = strings.TrimSuffix(source, "+inline")
	kind, rest, _ := strings.Cut(source, ":")
	switch kind {
	case "policy":
		return rest
	case "service_rule":
		if rule, err := e.CachedRule(ctx, rest); err == nil && rule.Policy != "" {
			return rule.Policy
		}
		return "service_rule-" + rest
	case "override":
		return "override"
	}
	return source
}

// matchPolicy returns the stored policy that a request with input in is
// mandated by when it names none and its service rule none: of the stored
// policies with a match expression, the one with the highest priority
// (then the first by name) whose expression holds; nil when none does. An
// expression that fails to compile or evaluate does not match (fail
// closed: the next one, or the default, applies) and is logged.
func (e *Engine) matchPolicy(ctx context.Context, in celrule.Input) (*approval.StoredPolicy, error) {
	all, err := e.store.ListPolicies(ctx)
	if err != nil {
		return nil, err
	}
	all = slices.DeleteFunc(all, func(sp approval.StoredPolicy) bool { return sp.Match == "" })
	if len(all) == 0 {
		return nil, nil
	}
	slices.SortStableFunc(all, func(a, b approval.StoredPolicy) int {
		return cmp.Or(cmp.Compare(b.Priority, a.Priority), strings.Compare(a.Name, b.Name))
	})
	vars, err := celrule.Prepare(in)
	if err != nil {
		e.log.Warn("policy selection skipped: the request's input does not evaluate", "err", err)
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, exprTimeout)
	defer cancel()
	for i := range all {
		prg, err := celrule.Compile(all[i].Match)
		if err == nil {
			var ok bool
			if ok, err = prg.EvalVars(ctx, vars); err == nil && ok {
				return &all[i], nil
			}
		}
		if err != nil {
			e.log.Warn("a stored policy's match failed; it does not match", "policy", all[i].Name, "err", err)
		}
	}
	return nil, nil
}

// checkExpressions returns a KindInvalid error naming every expression of
// pol (under field) that does not compile, with CEL's position.
func checkExpressions(field string, pol approval.Policy) error {
	var v approval.Validation
	celrule.CheckPolicy(&v, field, pol)
	return v.Err()
}
