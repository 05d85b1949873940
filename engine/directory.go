package engine

import (
	"context"
	"slices"

	"github.com/google/uuid"

	"approvald/approval"
)

// mayInspect lets admins and auditors read what admins manage.
func mayInspect(p approval.Principal, what string) error {
	if p.Has(approval.ScopeAdmin) || p.Has(approval.ScopeAudit) {
		return nil
	}
	return approval.Errorf(approval.KindForbidden, approval.CodeMissingScope,
		"%s needs the %s or %s scope, which %s does not have", what, approval.ScopeAdmin, approval.ScopeAudit, p.ID)
}

// CreateChannel validates c and stores it on behalf of p, an admin.
func (e *Engine) CreateChannel(ctx context.Context, p approval.Principal, c approval.NotificationChannel) (*approval.NotificationChannel, error) {
	if err := mayAdminister(p, "creating a notification channel"); err != nil {
		return nil, err
	}
	if err := c.Validate(e.allowPrivate); err != nil {
		return nil, err
	}
	now := e.Now()
	c.Version, c.CreatedAt, c.UpdatedAt = 1, now, now
	if err := e.store.CreateChannel(ctx, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// UpdateChannel applies edit to the channel named name on behalf of p, an
// admin, and validates the result; expect, when set, must be its version.
func (e *Engine) UpdateChannel(ctx context.Context, p approval.Principal, name string, expect *int64, edit func(*approval.NotificationChannel)) (*approval.NotificationChannel, error) {
	if err := mayAdminister(p, "changing a notification channel"); err != nil {
		return nil, err
	}
	return e.store.UpdateChannel(ctx, name, func(c *approval.NotificationChannel) error {
		if expect != nil && *expect != c.Version {
			return approval.Errorf(approval.KindPrecondition, approval.CodeVersionMismatch, "the channel is at version %d, not %d", c.Version, *expect)
		}
		edit(c)
		c.Name = name
		if err := c.Validate(e.allowPrivate); err != nil {
			return err
		}
		c.UpdatedAt = e.Now()
		return nil
	})
}

// Channel returns the channel named name to p, an admin or auditor.
func (e *Engine) Channel(ctx context.Context, p approval.Principal, name string) (*approval.NotificationChannel, error) {
	if err := mayInspect(p, "reading notification channels"); err != nil {
		return nil, err
	}
	return e.store.GetChannel(ctx, name)
}

// Channels returns every channel to p, an admin or auditor.
func (e *Engine) Channels(ctx context.Context, p approval.Principal) ([]approval.NotificationChannel, error) {
	if err := mayInspect(p, "listing notification channels"); err != nil {
		return nil, err
	}
	return e.store.ListChannels(ctx)
}

// DeleteChannel deletes the channel named name on behalf of p, an admin; a
// channel that a route or a group's contact names is a KindConflict error.
func (e *Engine) DeleteChannel(ctx context.Context, p approval.Principal, name string) error {
	if err := mayAdminister(p, "deleting a notification channel"); err != nil {
		return err
	}
	return e.store.DeleteChannel(ctx, name)
}

// CreateRoute validates rt and stores it on behalf of p, an admin.
func (e *Engine) CreateRoute(ctx context.Context, p approval.Principal, rt approval.NotificationRoute) (*approval.NotificationRoute, error) {
	if err := mayAdminister(p, "creating a notification route"); err != nil {
		return nil, err
	}
	if err := rt.Validate(); err != nil {
		return nil, err
	}
	rt.ID, rt.CreatedAt = 0, e.Now()
	if err := e.store.CreateRoute(ctx, &rt); err != nil {
		return nil, err
	}
	return &rt, nil
}

// Routes returns every route to p, an admin or auditor.
func (e *Engine) Routes(ctx context.Context, p approval.Principal) ([]approval.NotificationRoute, error) {
	if err := mayInspect(p, "listing notification routes"); err != nil {
		return nil, err
	}
	return e.store.ListRoutes(ctx)
}

// DeleteRoute deletes the route id on behalf of p, an admin.
func (e *Engine) DeleteRoute(ctx context.Context, p approval.Principal, id int64) error {
	if err := mayAdminister(p, "deleting a notification route"); err != nil {
		return err
	}
	return e.store.DeleteRoute(ctx, id)
}

// PutContact stores an admin-set directory entry on behalf of p, an admin.
func (e *Engine) PutContact(ctx context.Context, p approval.Principal, c approval.Contact) (*approval.Contact, error) {
	if err := mayAdminister(p, "setting a contact"); err != nil {
		return nil, err
	}
	c.Source = approval.ContactAdmin
	if err := c.Validate(); err != nil {
		return nil, err
	}
	c.UpdatedAt = e.Now()
	if err := e.store.PutContact(ctx, c); err != nil {
		return nil, err
	}
	return &c, nil
}

// RememberContact records the address a principal gave by signing in
// (source oidc) or with its API key (source api_key). An admin-set entry
// takes precedence and is kept. An address that is not valid is ignored:
// it comes from an identity provider, not from the caller.
func (e *Engine) RememberContact(ctx context.Context, principal, email, source string) error {
	c := approval.Contact{Principal: principal, Email: email, Source: source, UpdatedAt: e.Now()}
	if c.Validate() != nil {
		return nil
	}
	return e.store.PutContact(ctx, c)
}

// Contacts returns every contact to p, an admin or auditor.
func (e *Engine) Contacts(ctx context.Context, p approval.Principal) ([]approval.Contact, error) {
	if err := mayInspect(p, "listing contacts"); err != nil {
		return nil, err
	}
	return e.store.ListContacts(ctx)
}

// DeleteContact deletes the contact with key (a principal, or
// "group:<name>") on behalf of p, an admin.
func (e *Engine) DeleteContact(ctx context.Context, p approval.Principal, key string) error {
	if err := mayAdminister(p, "deleting a contact"); err != nil {
		return err
	}
	return e.store.DeleteContact(ctx, key)
}

// SetMutes records the kinds of notification p does not want.
func (e *Engine) SetMutes(ctx context.Context, p approval.Principal, kinds []approval.NotifyKind) ([]approval.NotifyKind, error) {
	var v approval.Validation
	for i, k := range kinds {
		if !approval.ValidNotifyKind(k) {
			v.Add("muted", "item %d, %q, is not a kind of notification", i, k)
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	kinds = slices.Clone(kinds)
	slices.Sort(kinds)
	kinds = slices.Compact(kinds)
	if kinds == nil {
		kinds = []approval.NotifyKind{}
	}
	if err := e.store.SetMutes(ctx, p.ID, kinds); err != nil {
		return nil, err
	}
	return kinds, nil
}

// Mutes returns the kinds of notification p does not want.
func (e *Engine) Mutes(ctx context.Context, p approval.Principal) ([]approval.NotifyKind, error) {
	m, err := e.store.Mutes(ctx, []string{p.ID})
	if err != nil {
		return nil, err
	}
	if m[p.ID] == nil {
		return []approval.NotifyKind{}, nil
	}
	return m[p.ID], nil
}

// CreateDelegation stores d on behalf of p. A reviewer delegates its own
// eligibility (the delegator is p, with the groups p's credential carries
// now); an admin may delegate anyone's, with the groups it gives.
func (e *Engine) CreateDelegation(ctx context.Context, p approval.Principal, d approval.Delegation) (*approval.Delegation, error) {
	if d.Delegator == "" {
		d.Delegator = p.ID
	}
	switch {
	case p.IsAdmin():
	case d.Delegator != p.ID:
		return nil, approval.Errorf(approval.KindForbidden, approval.CodeMissingScope,
			"delegating someone else's reviews needs the %s scope, which %s does not have", approval.ScopeAdmin, p.ID)
	case !p.Has(approval.ScopeReview):
		return nil, approval.Errorf(approval.KindForbidden, approval.CodeMissingScope,
			"delegating reviews needs the %s scope, which %s does not have", approval.ScopeReview, p.ID)
	default:
		if d.DelegatorGroups != nil && !slices.Equal(sorted(d.DelegatorGroups), sorted(p.Groups)) {
			var v approval.Validation
			v.Add("delegator_groups", "a reviewer delegates the groups its credential carries; leave it out")
			return nil, v.Err()
		}
		d.DelegatorGroups = slices.Clone(p.Groups)
	}
	now := e.Now()
	id, err := uuid.NewV7()
	if err != nil {
		return nil, approval.Internal(err)
	}
	d.ID, d.CreatedBy, d.CreatedAt, d.RevokedAt, d.RevokedBy = id.String(), p.ID, now, nil, ""
	if err := d.Validate(now); err != nil {
		return nil, err
	}
	if err := e.store.CreateDelegation(ctx, d); err != nil {
		return nil, err
	}
	return &d, nil
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// Delegations returns the delegations f selects: every one to an admin or
// auditor, only those p gave or received to anyone else.
func (e *Engine) Delegations(ctx context.Context, p approval.Principal, f approval.DelegationFilter) ([]approval.Delegation, error) {
	if mayInspect(p, "") != nil {
		if f.Principal != "" && f.Principal != p.ID {
			return nil, approval.Errorf(approval.KindForbidden, approval.CodeMissingScope,
				"listing someone else's delegations needs the %s or %s scope", approval.ScopeAdmin, approval.ScopeAudit)
		}
		f.Principal = p.ID
	}
	return e.store.ListDelegations(ctx, f)
}

// RevokeDelegation ends the delegation id at once, on behalf of its
// delegator, its delegate or an admin.
func (e *Engine) RevokeDelegation(ctx context.Context, p approval.Principal, id string) (*approval.Delegation, error) {
	d, err := e.store.GetDelegation(ctx, id)
	if err != nil {
		return nil, err
	}
	if !p.IsAdmin() && p.ID != d.Delegator && p.ID != d.Delegate {
		return nil, approval.NotFound("delegation") // not theirs: do not tell it exists
	}
	return e.store.RevokeDelegation(ctx, id, p.ID, e.Now())
}

// Notifications returns the notifications f selects to p, an admin or auditor.
func (e *Engine) Notifications(ctx context.Context, p approval.Principal, f approval.NotificationFilter) ([]approval.Notification, error) {
	if err := mayInspect(p, "listing notifications"); err != nil {
		return nil, err
	}
	return e.store.ListNotifications(ctx, f)
}

// ActiveDelegations returns the delegations to p active now: whose
// eligibility p may review with (ReviewInput.OnBehalfOf).
func (e *Engine) ActiveDelegations(ctx context.Context, p approval.Principal) ([]approval.Delegation, error) {
	return e.store.ActiveDelegations(ctx, p.ID, e.Now())
}
