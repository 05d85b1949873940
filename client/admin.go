package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// page is the body of the admin lists, which are not paged.
type page[T any] struct {
	Items []T `json:"items"`
}

// CreateServiceRuleRequest is the body of a service rule's create. Name and
// URL are required.
type CreateServiceRuleRequest struct {
	Name string `json:"name"`
	URL  string `json:"url"`
	// Format is "standard" (Standard Webhooks, the default) or "legacy".
	Format string `json:"format,omitempty"`
	// Secret is the signing secret ("whsec_…"); empty: the server makes
	// one and returns it once, in [ServiceRule].Secret.
	Secret string `json:"secret,omitempty"`
	// APIKey is sent as the Authorization header of legacy deliveries.
	APIKey      string            `json:"api_key,omitempty"`
	Timeout     string            `json:"timeout,omitempty"`
	MaxAttempts int               `json:"max_attempts,omitempty"`
	Headers     map[string]string `json:"headers,omitempty"`
	// Policy names a stored policy for the rule's requests.
	Policy string `json:"policy,omitempty"`
}

// CreateServiceRule creates a service rule (admin).
func (c *Client) CreateServiceRule(ctx context.Context, in CreateServiceRuleRequest, opts ...CallOption) (*ServiceRule, error) {
	return sendJSON[ServiceRule](ctx, c, http.MethodPost, "/v1/service-rules", in, opts)
}

// ServiceRules lists the service rules (admin or audit).
func (c *Client) ServiceRules(ctx context.Context, opts ...CallOption) ([]*ServiceRule, error) {
	return list[*ServiceRule](ctx, c, "/v1/service-rules", opts)
}

// ServiceRule returns the service rule with the given name (admin or audit).
func (c *Client) ServiceRule(ctx context.Context, name string, opts ...CallOption) (*ServiceRule, error) {
	return getJSON[ServiceRule](ctx, c, rulePath(name), opts)
}

// ServiceRulePatch is an edit of a service rule (a merge patch): nil fields
// stay as they are.
type ServiceRulePatch struct {
	URL    *string
	Format *string
	// Secret sets the signing secret; see also RotateSecret.
	Secret      *string
	APIKey      *string
	Timeout     *string
	MaxAttempts *int
	// Headers, when not nil, replace the rule's headers with these names
	// and values (an empty map removes them all), plus those of
	// KeepHeaders.
	Headers map[string]string
	// KeepHeaders names headers of the rule to keep with the values they
	// have, which the server never shows (each is sent as {}). Headers and
	// KeepHeaders together are the rule's new set of headers; a name the
	// rule does not have is refused (422).
	KeepHeaders []string
	Policy      *string
	// RotateSecret has the server make a new signing secret, returned once
	// in [ServiceRule].Secret.
	RotateSecret bool
	// Clear lists fields to reset (sent as null), such as "api_key",
	// "timeout", "max_attempts", "headers" or "policy".
	Clear []string
}

// MarshalJSON encodes p as a merge patch.
func (p ServiceRulePatch) MarshalJSON() ([]byte, error) {
	m := newPatchBody(p.Clear)
	if p.RotateSecret {
		m["secret"] = nil
	}
	m.put("url", p.URL, p.URL != nil)
	m.put("format", p.Format, p.Format != nil)
	m.put("secret", p.Secret, p.Secret != nil)
	m.put("api_key", p.APIKey, p.APIKey != nil)
	m.put("timeout", p.Timeout, p.Timeout != nil)
	m.put("max_attempts", p.MaxAttempts, p.MaxAttempts != nil)
	if p.Headers != nil || p.KeepHeaders != nil {
		h := make(map[string]any, len(p.Headers)+len(p.KeepHeaders))
		for name, value := range p.Headers {
			h[name] = value
		}
		for _, name := range p.KeepHeaders {
			h[name] = struct{}{}
		}
		m["headers"] = h
	}
	m.put("policy", p.Policy, p.Policy != nil)
	return json.Marshal(m)
}

// EditServiceRule changes a service rule (admin).
func (c *Client) EditServiceRule(ctx context.Context, name string, p ServiceRulePatch, opts ...CallOption) (*ServiceRule, error) {
	return mergePatch[ServiceRule](ctx, c, rulePath(name), p, opts)
}

// DeleteServiceRule deletes a service rule (admin); it fails with 409 while
// a request that is not final names it.
func (c *Client) DeleteServiceRule(ctx context.Context, name string, opts ...CallOption) error {
	return c.do(ctx, &call{method: http.MethodDelete, path: rulePath(name), opts: opts}, nil)
}

func rulePath(name string) string { return "/v1/service-rules/" + pathEscape(name) }

// PolicyRequest is the body of a stored policy's create or replace.
type PolicyRequest struct {
	// Name is required on create; on replace it may be empty or must match.
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	// Match, a CEL expression over the request, selects the policy for the
	// creates that name none; the highest Priority among those matching
	// applies.
	Match    string `json:"match,omitempty"`
	Priority int    `json:"priority,omitempty"`
	Policy   Policy `json:"policy"`
}

// CreatePolicy stores a named policy (admin).
func (c *Client) CreatePolicy(ctx context.Context, in PolicyRequest, opts ...CallOption) (*StoredPolicy, error) {
	return sendJSON[StoredPolicy](ctx, c, http.MethodPost, "/v1/policies", in, opts)
}

// Policies lists the stored policies.
func (c *Client) Policies(ctx context.Context, opts ...CallOption) ([]*StoredPolicy, error) {
	return list[*StoredPolicy](ctx, c, "/v1/policies", opts)
}

// Policy returns the stored policy with the given name.
func (c *Client) Policy(ctx context.Context, name string, opts ...CallOption) (*StoredPolicy, error) {
	return getJSON[StoredPolicy](ctx, c, policyPath(name), opts)
}

// ReplacePolicy replaces a stored policy's description and rules (admin);
// [IfMatch] makes it conditional on its version. Open requests keep the
// copy they were made with.
func (c *Client) ReplacePolicy(ctx context.Context, name string, in PolicyRequest, opts ...CallOption) (*StoredPolicy, error) {
	return sendJSON[StoredPolicy](ctx, c, http.MethodPut, policyPath(name), in, opts)
}

// DeletePolicy deletes a stored policy (admin).
func (c *Client) DeletePolicy(ctx context.Context, name string, opts ...CallOption) error {
	return c.do(ctx, &call{method: http.MethodDelete, path: policyPath(name), opts: opts}, nil)
}

func policyPath(name string) string { return "/v1/policies/" + pathEscape(name) }

// CreateAPIKeyRequest is the body of an API key's create.
type CreateAPIKeyRequest struct {
	// Name makes the key's principal "svc:<name>".
	Name string `json:"name"`
	// Scopes are among approvals:create, approvals:review,
	// approvals:read, admin and audit.
	Scopes    []string   `json:"scopes"`
	Groups    []string   `json:"groups,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// Contact is an email address for notifications to the key's
	// principal, unless an admin sets another.
	Contact string `json:"contact,omitempty"`
}

// CreateAPIKey creates an API key (admin). The secret is in the result's
// Key, and only there: store it now.
func (c *Client) CreateAPIKey(ctx context.Context, in CreateAPIKeyRequest, opts ...CallOption) (*APIKey, error) {
	return sendJSON[APIKey](ctx, c, http.MethodPost, "/v1/api-keys", in, opts)
}

// APIKeys lists the API keys, never their secrets (admin or audit).
func (c *Client) APIKeys(ctx context.Context, opts ...CallOption) ([]*APIKey, error) {
	return list[*APIKey](ctx, c, "/v1/api-keys", opts)
}

// RevokeAPIKey revokes an API key (admin).
func (c *Client) RevokeAPIKey(ctx context.Context, id string, opts ...CallOption) error {
	return c.do(ctx, &call{method: http.MethodDelete, path: "/v1/api-keys/" + pathEscape(id), opts: opts}, nil)
}

// RotateAPIKey gives a live key a new secret, returned in the result's Key;
// the old secret stops working (admin).
func (c *Client) RotateAPIKey(ctx context.Context, id string, opts ...CallOption) (*APIKey, error) {
	return fetch[APIKey](ctx, c, &call{method: http.MethodPost, path: "/v1/api-keys/" + pathEscape(id) + "/rotate", opts: opts})
}

// GatewayCallOptions filter the gateway's call log.
type GatewayCallOptions struct {
	ProjectName      string
	ProjectStartTime string
	Limit            int
	Cursor           string
}

// GatewayCalls returns one page of the CR8TOR gateway's call log, newest
// first (admin or audit).
func (c *Client) GatewayCalls(ctx context.Context, o GatewayCallOptions, opts ...CallOption) (*GatewayCallPage, error) {
	q := url.Values{}
	if o.ProjectName != "" {
		q.Set("project_name", o.ProjectName)
	}
	if o.ProjectStartTime != "" {
		q.Set("project_start_time", o.ProjectStartTime)
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	return fetch[GatewayCallPage](ctx, c, &call{method: http.MethodGet, path: "/v1/gateway/calls", query: q, opts: opts})
}

// Health returns nil when the server process answers (GET /healthz).
func (c *Client) Health(ctx context.Context) error {
	return c.do(ctx, &call{method: http.MethodGet, path: "/healthz"}, nil)
}

// Ready returns nil when the server can serve: its database answers (GET
// /readyz). A server that is not ready answers 503, which is retried.
func (c *Client) Ready(ctx context.Context) error {
	return c.do(ctx, &call{method: http.MethodGet, path: "/readyz"}, nil)
}

// OpenAPI returns the server's OpenAPI document.
func (c *Client) OpenAPI(ctx context.Context) (json.RawMessage, error) {
	return c.raw(ctx, http.MethodGet, "/openapi.json")
}

// Metrics returns the server's Prometheus metrics in the text format
// (admin or audit).
func (c *Client) Metrics(ctx context.Context) (string, error) {
	resp, err := c.raw(ctx, http.MethodGet, "/metrics")
	return string(resp), err
}

// raw returns the body of a 2xx answer to a GET as it is.
func (c *Client) raw(ctx context.Context, method, path string) ([]byte, error) {
	_, body, err := c.send(ctx, &call{method: method, path: path})
	if err != nil {
		return nil, err
	}
	return body, nil
}
