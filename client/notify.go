package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"approvald/approval"
)

// The notification and delegation types that encode exactly as the API
// reads and writes them are the domain's own (package approval).
type (
	// NotifyKind is what a notification tells: "review_requested",
	// "reminder", "escalation", "decision", "delivery_failed" or "expired".
	NotifyKind = approval.NotifyKind
	// EmailSettings are an email channel's SMTP settings: where the
	// password is read from (PasswordFile, PasswordEnv), never a password.
	EmailSettings = approval.EmailSettings
	// NotificationRoute sends the notifications of some kinds about some
	// requests to a channel.
	NotificationRoute = approval.NotificationRoute
	// Contact is where a principal or a group is reached.
	Contact = approval.Contact
	// Delegation lends a delegator's review eligibility to a delegate for
	// a time window.
	Delegation = approval.Delegation
	// Notification is one message to one recipient in the server's queue.
	Notification = approval.Notification
	// Escalation records that a rule's escalation reviewers became eligible.
	Escalation = approval.Escalation
)

// NotificationChannel is a notification channel as the API shows it.
type NotificationChannel struct {
	Name string `json:"name"`
	// Type is "email", "slack" or "teams".
	Type  string         `json:"type"`
	Email *EmailSettings `json:"email,omitempty"`
	// URL is a chat channel's webhook URL, redacted by the server
	// ("https://hooks.slack.com/…"): it is never sent in full.
	URL       string    `json:"url,omitempty"`
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ChannelRequest is the body of a channel's create or replace.
type ChannelRequest struct {
	// Name is required on create; on replace it may be empty or must match.
	Name  string         `json:"name,omitempty"`
	Type  string         `json:"type"`
	Email *EmailSettings `json:"email,omitempty"`
	// URL is a chat channel's webhook URL. Empty on replace: the channel
	// keeps the one it has.
	URL string `json:"url,omitempty"`
}

// CreateChannel creates a notification channel (admin).
func (c *Client) CreateChannel(ctx context.Context, in ChannelRequest, opts ...CallOption) (*NotificationChannel, error) {
	return sendJSON[NotificationChannel](ctx, c, http.MethodPost, "/v1/notification-channels", in, opts)
}

// Channels lists the notification channels (admin or audit).
func (c *Client) Channels(ctx context.Context, opts ...CallOption) ([]*NotificationChannel, error) {
	return list[*NotificationChannel](ctx, c, "/v1/notification-channels", opts)
}

// Channel returns the notification channel with the given name (admin or audit).
func (c *Client) Channel(ctx context.Context, name string, opts ...CallOption) (*NotificationChannel, error) {
	return getJSON[NotificationChannel](ctx, c, channelPath(name), opts)
}

// ReplaceChannel replaces a channel's type and settings (admin); [IfMatch]
// makes it conditional on its version.
func (c *Client) ReplaceChannel(ctx context.Context, name string, in ChannelRequest, opts ...CallOption) (*NotificationChannel, error) {
	return sendJSON[NotificationChannel](ctx, c, http.MethodPut, channelPath(name), in, opts)
}

// DeleteChannel deletes a notification channel (admin); it fails with 409
// while a route or a group's contact names it.
func (c *Client) DeleteChannel(ctx context.Context, name string, opts ...CallOption) error {
	return c.do(ctx, &call{method: http.MethodDelete, path: channelPath(name), opts: opts}, nil)
}

func channelPath(name string) string { return "/v1/notification-channels/" + pathEscape(name) }

// RouteRequest is the body of a notification route's create.
type RouteRequest struct {
	Channel string `json:"channel"`
	// Events are the kinds sent; empty for every kind.
	Events []NotifyKind `json:"events,omitempty"`
	// Scope is "all" (the default), "service_rule:<name>",
	// "policy:<name>" or "group:<name>".
	Scope string `json:"scope,omitempty"`
}

// CreateRoute creates a notification route (admin).
func (c *Client) CreateRoute(ctx context.Context, in RouteRequest, opts ...CallOption) (*NotificationRoute, error) {
	return sendJSON[NotificationRoute](ctx, c, http.MethodPost, "/v1/notification-routes", in, opts)
}

// Routes lists the notification routes (admin or audit).
func (c *Client) Routes(ctx context.Context, opts ...CallOption) ([]*NotificationRoute, error) {
	return list[*NotificationRoute](ctx, c, "/v1/notification-routes", opts)
}

// DeleteRoute deletes a notification route (admin).
func (c *Client) DeleteRoute(ctx context.Context, id int64, opts ...CallOption) error {
	return c.do(ctx, &call{method: http.MethodDelete, path: "/v1/notification-routes/" + strconv.FormatInt(id, 10), opts: opts}, nil)
}

// ContactRequest is a directory entry: Principal and Email, or Group with
// Emails and/or Channel.
type ContactRequest struct {
	Principal string   `json:"principal,omitempty"`
	Email     string   `json:"email,omitempty"`
	Group     string   `json:"group,omitempty"`
	Emails    []string `json:"emails,omitempty"`
	Channel   string   `json:"channel,omitempty"`
	// Admin contacts are also told of failed deliveries.
	Admin bool `json:"admin,omitempty"`
}

// SetContact stores a directory entry, replacing the entry of the same
// principal or group (admin).
func (c *Client) SetContact(ctx context.Context, in ContactRequest, opts ...CallOption) (*Contact, error) {
	return sendJSON[Contact](ctx, c, http.MethodPost, "/v1/contacts", in, opts)
}

// Contacts lists the contacts, whatever their source (admin or audit).
func (c *Client) Contacts(ctx context.Context, opts ...CallOption) ([]*Contact, error) {
	return list[*Contact](ctx, c, "/v1/contacts", opts)
}

// DeleteContact deletes the contact with key: a principal, or "group:"
// and a group's name (admin).
func (c *Client) DeleteContact(ctx context.Context, key string, opts ...CallOption) error {
	return c.do(ctx, &call{method: http.MethodDelete, path: "/v1/contacts/" + pathEscape(key), opts: opts}, nil)
}

// DelegationRequest is the body of a delegation's create.
type DelegationRequest struct {
	// Delegator and DelegatorGroups are for admins: whose eligibility is
	// lent. A reviewer leaves them empty and delegates its own.
	Delegator       string   `json:"delegator,omitempty"`
	DelegatorGroups []string `json:"delegator_groups,omitempty"`
	Delegate        string   `json:"delegate"`
	// StartsAt zero is now.
	StartsAt time.Time `json:"-"`
	EndsAt   time.Time `json:"-"`
	Reason   string    `json:"reason,omitempty"`
}

// delegationBody is a DelegationRequest on the wire.
type delegationBody struct {
	DelegationRequest
	StartsAt *time.Time `json:"starts_at,omitempty"`
	EndsAt   time.Time  `json:"ends_at"`
}

// CreateDelegation lends review eligibility for a time window: the
// caller's own (a reviewer), or anyone's (an admin).
func (c *Client) CreateDelegation(ctx context.Context, in DelegationRequest, opts ...CallOption) (*Delegation, error) {
	body := delegationBody{DelegationRequest: in, EndsAt: in.EndsAt}
	if !in.StartsAt.IsZero() {
		body.StartsAt = &in.StartsAt
	}
	return sendJSON[Delegation](ctx, c, http.MethodPost, "/v1/delegations", body, opts)
}

// DelegationOptions filter the delegations listed.
type DelegationOptions struct {
	// Principal keeps those it gave or received (admin or audit, unless it
	// is the caller).
	Principal string
	// Active keeps those in force now.
	Active bool
	Limit  int
}

// Delegations lists delegations, newest first: the caller's own, or
// everyone's for an admin or auditor.
func (c *Client) Delegations(ctx context.Context, o DelegationOptions, opts ...CallOption) ([]*Delegation, error) {
	q := url.Values{}
	if o.Principal != "" {
		q.Set("principal", o.Principal)
	}
	if o.Active {
		q.Set("active", "true")
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	out, err := fetch[page[*Delegation]](ctx, c, &call{method: http.MethodGet, path: "/v1/delegations", query: q, opts: opts})
	if err != nil {
		return nil, err
	}
	return out.Items, nil
}

// Delegation returns the delegation with the given id (its delegator, its
// delegate, an admin or an auditor).
func (c *Client) Delegation(ctx context.Context, id string, opts ...CallOption) (*Delegation, error) {
	return getJSON[Delegation](ctx, c, "/v1/delegations/"+pathEscape(id), opts)
}

// RevokeDelegation ends a delegation at once (its delegator, its delegate
// or an admin) and returns it.
func (c *Client) RevokeDelegation(ctx context.Context, id string, opts ...CallOption) (*Delegation, error) {
	return fetch[Delegation](ctx, c, &call{method: http.MethodPost, path: "/v1/delegations/" + pathEscape(id) + "/revoke", opts: opts})
}

// NotificationPreferences are the kinds of notification the caller does
// not want.
type NotificationPreferences struct {
	Muted []NotifyKind `json:"muted"`
}

// NotificationPreferences returns the caller's muted kinds.
func (c *Client) NotificationPreferences(ctx context.Context, opts ...CallOption) (*NotificationPreferences, error) {
	return getJSON[NotificationPreferences](ctx, c, "/v1/me/notification-preferences", opts)
}

// SetNotificationPreferences replaces the caller's muted kinds (none: an
// empty list).
func (c *Client) SetNotificationPreferences(ctx context.Context, muted []NotifyKind, opts ...CallOption) (*NotificationPreferences, error) {
	if muted == nil {
		muted = []NotifyKind{}
	}
	return sendJSON[NotificationPreferences](ctx, c, http.MethodPut, "/v1/me/notification-preferences", NotificationPreferences{Muted: muted}, opts)
}

// NotificationOptions filter the notification queue.
type NotificationOptions struct {
	RequestID string
	// State is "failed", "pending" or "" for every notification.
	State  string
	Limit  int
	Cursor string
}

// NotificationPage is one page of the notification queue.
type NotificationPage struct {
	Items      []*Notification `json:"items"`
	NextCursor *string         `json:"next_cursor"`
}

// Notifications returns one page of the notification queue, newest first
// (admin or audit).
func (c *Client) Notifications(ctx context.Context, o NotificationOptions, opts ...CallOption) (*NotificationPage, error) {
	q := url.Values{}
	if o.RequestID != "" {
		q.Set("request_id", o.RequestID)
	}
	if o.State != "" {
		q.Set("state", o.State)
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	return fetch[NotificationPage](ctx, c, &call{method: http.MethodGet, path: "/v1/notifications", query: q, opts: opts})
}
