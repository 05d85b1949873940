package client

import (
	"context"
	"encoding/json"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// CreateRequest is the body of a create. Only Title is required.
type CreateRequest struct {
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	// Payload is the thing being approved: a JSON object of at most 256 KiB.
	Payload     json.RawMessage `json:"payload,omitempty"`
	ServiceRule string          `json:"service_rule,omitempty"`
	// Deadline, when set, must be in the future: past it a pending request
	// becomes expired.
	Deadline *time.Time `json:"deadline,omitempty"`
	// Policy overrides PolicyName, the service rule's policy and the default.
	Policy     *Policy  `json:"policy,omitempty"`
	PolicyName string   `json:"policy_name,omitempty"`
	DependsOn  []string `json:"depends_on,omitempty"`
	// RemindAfter is a duration such as "4h" between reminders.
	RemindAfter string `json:"remind_after,omitempty"`
	Subject     string `json:"subject,omitempty"`
	// Justification says why the request is made (a policy may require it).
	Justification string `json:"justification,omitempty"`
	// Items are what reviewers may decide one by one.
	Items []Item `json:"items,omitempty"`
}

// Create makes an approval request on behalf of the caller. It sends an
// Idempotency-Key (a random one unless [IdempotencyKey] gives it), so a
// create whose answer was lost is retried without making a second request;
// [CaptureResponse] tells whether the answer was such a replay.
func (c *Client) Create(ctx context.Context, in CreateRequest, opts ...CallOption) (*ApprovalRequest, error) {
	opts = append([]CallOption{IdempotencyKey(newIdempotencyKey())}, opts...)
	return sendJSON[ApprovalRequest](ctx, c, http.MethodPost, "/v1/approvals", in, opts)
}

// Get returns the approval request with the given id.
func (c *Client) Get(ctx context.Context, id string, opts ...CallOption) (*ApprovalRequest, error) {
	return getJSON[ApprovalRequest](ctx, c, approvalPath(id), opts)
}

// MaxPollWait is the longest wait the server allows a long-poll.
const MaxPollWait = 50 * time.Second

// Poll long-polls the request: it returns as soon as its version is above
// afterVersion, or after wait (at most [MaxPollWait]) with the request as it
// then is, changed or not.
func (c *Client) Poll(ctx context.Context, id string, afterVersion int64, wait time.Duration, opts ...CallOption) (*ApprovalRequest, error) {
	wait = min(max(wait, 0), MaxPollWait)
	q := url.Values{"wait": {wait.String()}, "after_version": {strconv.FormatInt(afterVersion, 10)}}
	return fetch[ApprovalRequest](ctx, c, &call{method: http.MethodGet, path: approvalPath(id), query: q, extra: wait, opts: opts})
}

// WaitOptions adjust [Client.WaitWith].
type WaitOptions struct {
	// PollWait is how long each long-poll may wait (default 30s, at most
	// [MaxPollWait]).
	PollWait time.Duration
	// OnChange, when set, is called with the request as first read and
	// after every change seen.
	OnChange func(*ApprovalRequest)
}

// Wait blocks until the request is settled — approved, rejected, cancelled,
// expired, revoked, error (a decision that could not be delivered) or
// changes_requested (its requester must edit and resubmit it) — and
// returns it. It long-polls, so a change is seen at once. When ctx ends first it
// returns the request as last seen (nil if never read) and an error
// wrapping ctx's.
func (c *Client) Wait(ctx context.Context, id string) (*ApprovalRequest, error) {
	return c.WaitWith(ctx, id, WaitOptions{})
}

// WaitWith is [Client.Wait] with options.
func (c *Client) WaitWith(ctx context.Context, id string, o WaitOptions) (*ApprovalRequest, error) {
	if o.PollWait <= 0 {
		o.PollWait = 30 * time.Second
	}
	last, err := c.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if o.OnChange != nil {
		o.OnChange(last)
	}
	for !last.Status.Settled() {
		next, err := c.Poll(ctx, id, last.Version, o.PollWait)
		if err != nil {
			return last, err
		}
		if next.Version != last.Version && o.OnChange != nil {
			o.OnChange(next)
		}
		last = next
	}
	return last, nil
}

// ListOptions filter a list of approval requests; the filters combine with AND.
type ListOptions struct {
	// Status keeps requests in any of these statuses.
	Status      []Status
	Requester   string
	Subject     string
	ServiceRule string
	// AwaitingMe lists the caller's inbox instead: pending requests it may
	// review, oldest first. It combines only with Limit and Cursor.
	AwaitingMe bool
	// Limit is the page size, 1 to 200 (default 50).
	Limit int
	// Cursor is the NextCursor of the previous page.
	Cursor string
}

func (o ListOptions) query() url.Values {
	q := url.Values{}
	for _, s := range o.Status {
		q.Add("status", string(s))
	}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("requester", o.Requester)
	set("subject", o.Subject)
	set("service_rule", o.ServiceRule)
	if o.AwaitingMe {
		q.Set("awaiting", "me")
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	set("cursor", o.Cursor)
	return q
}

// List returns one page of approval requests, newest first (the inbox:
// oldest first).
func (c *Client) List(ctx context.Context, o ListOptions, opts ...CallOption) (*ApprovalPage, error) {
	return fetch[ApprovalPage](ctx, c, &call{method: http.MethodGet, path: "/v1/approvals", query: o.query(), opts: opts})
}

// ListAll walks every page of the list from o.Cursor on, yielding each
// request; it stops at the first error, which it yields.
func (c *Client) ListAll(ctx context.Context, o ListOptions) iter.Seq2[*ApprovalRequest, error] {
	return func(yield func(*ApprovalRequest, error) bool) {
		for {
			page, err := c.List(ctx, o)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, r := range page.Items {
				if !yield(r, nil) {
					return
				}
			}
			if page.NextCursor == "" {
				return
			}
			o.Cursor = page.NextCursor
		}
	}
}

// ApprovalPatch is an edit of a request (a JSON merge patch): nil fields
// stay as they are. What may change depends on the status: in pending and
// error the object information and the comment, in a final status only the
// comment.
type ApprovalPatch struct {
	Title       *string
	Description *string
	Payload     json.RawMessage
	ServiceRule *string
	Deadline    *time.Time
	// Policy may be changed by admins only; it voids the reviews so far,
	// as a new Payload does.
	Policy      *Policy
	RemindAfter *string
	Comment     *string
	// Justification replaces the justification; Items, when not nil,
	// replace the items (both void the reviews so far).
	Justification *string
	Items         []Item
	// Clear lists fields to remove (sent as null): "deadline",
	// "remind_after", "description", "service_rule", "comment",
	// "justification" or "items".
	Clear []string
}

// MarshalJSON encodes p as a merge patch.
func (p ApprovalPatch) MarshalJSON() ([]byte, error) {
	m := newPatchBody(p.Clear)
	m.put("title", p.Title, p.Title != nil)
	m.put("description", p.Description, p.Description != nil)
	m.put("payload", p.Payload, p.Payload != nil)
	m.put("service_rule", p.ServiceRule, p.ServiceRule != nil)
	m.put("deadline", p.Deadline, p.Deadline != nil)
	m.put("policy", p.Policy, p.Policy != nil)
	m.put("remind_after", p.RemindAfter, p.RemindAfter != nil)
	m.put("comment", p.Comment, p.Comment != nil)
	m.put("justification", p.Justification, p.Justification != nil)
	m.put("items", p.Items, p.Items != nil)
	return json.Marshal(m)
}

// Edit changes what the request's status allows. [IfMatch] makes it
// conditional on the version.
func (c *Client) Edit(ctx context.Context, id string, p ApprovalPatch, opts ...CallOption) (*ApprovalRequest, error) {
	return mergePatch[ApprovalRequest](ctx, c, approvalPath(id), p, opts)
}

// SetComment replaces the request's comment, which may change in every
// status but the acknowledged ones.
func (c *Client) SetComment(ctx context.Context, id, comment string, opts ...CallOption) (*ApprovalRequest, error) {
	return c.Edit(ctx, id, ApprovalPatch{Comment: &comment}, opts...)
}

// ReviewRequest is the body of a review.
type ReviewRequest struct {
	Decision Decision `json:"decision"`
	Comment  string   `json:"comment,omitempty"`
	// Version, when set, is the version the reviewer saw: the review fails
	// with 409 stale_version if the request has moved on.
	Version *int64 `json:"version,omitempty"`
	// OnBehalfOf names the delegator the caller reviews for, under a
	// delegation to the caller in force now.
	OnBehalfOf string `json:"on_behalf_of,omitempty"`
	// Items decides the request's items one by one (every item once);
	// Decision may then be left empty.
	Items []ItemDecision `json:"items,omitempty"`
}

// Review records the caller's review of the request and returns the request
// after it (decided, if the review satisfied the policy or rejected it).
func (c *Client) Review(ctx context.Context, id string, in ReviewRequest, opts ...CallOption) (*ApprovalRequest, error) {
	return sendJSON[ApprovalRequest](ctx, c, http.MethodPost, approvalPath(id)+"/reviews", in, opts)
}

// Approve reviews the request with an approval.
func (c *Client) Approve(ctx context.Context, id, comment string, opts ...CallOption) (*ApprovalRequest, error) {
	return c.Review(ctx, id, ReviewRequest{Decision: Approve, Comment: comment}, opts...)
}

// Reject reviews the request with a rejection.
func (c *Client) Reject(ctx context.Context, id, comment string, opts ...CallOption) (*ApprovalRequest, error) {
	return c.Review(ctx, id, ReviewRequest{Decision: Reject, Comment: comment}, opts...)
}

// RequestChanges sends the request back to its requester with comment
// (required), who edits it and resubmits it.
func (c *Client) RequestChanges(ctx context.Context, id, comment string, opts ...CallOption) (*ApprovalRequest, error) {
	return c.Review(ctx, id, ReviewRequest{Decision: RequestChanges, Comment: comment}, opts...)
}

// Resubmit sends a request in changes_requested back to pending (its
// requester or an admin may); the reviews before are void. [IfMatch] makes
// it conditional on the version the requester edited.
func (c *Client) Resubmit(ctx context.Context, id string, opts ...CallOption) (*ApprovalRequest, error) {
	return fetch[ApprovalRequest](ctx, c, &call{method: http.MethodPost, path: approvalPath(id) + "/resubmit", opts: opts})
}

// Revoke takes back the approval of an approved request, with a reason
// (required): an admin may, or an eligible reviewer of a rule the policy
// marks can_revoke. The revocation is delivered to the service rule.
func (c *Client) Revoke(ctx context.Context, id, reason string, opts ...CallOption) (*ApprovalRequest, error) {
	return sendJSON[ApprovalRequest](ctx, c, http.MethodPost, approvalPath(id)+"/revoke", struct {
		Reason string `json:"reason"`
	}{reason}, opts)
}

// MaxBatchReview is the most reviews one [Client.BatchReview] may send.
const MaxBatchReview = 100

// BatchReviewItem is one review of a batch.
type BatchReviewItem struct {
	ID       string         `json:"id"`
	Decision Decision       `json:"decision,omitempty"`
	Comment  string         `json:"comment,omitempty"`
	Items    []ItemDecision `json:"items,omitempty"`
	// IfMatch, when set, is the version the request must be at; another
	// fails this review with 412 version_mismatch.
	IfMatch *int64 `json:"if_match,omitempty"`
}

// BatchResult is what became of one review of a batch: Status is the HTTP
// status its own review call would have had; Approval is the request after
// it (2xx), Err the API's error otherwise.
type BatchResult struct {
	ID       string           `json:"id"`
	Status   int              `json:"status"`
	Approval *ApprovalRequest `json:"approval"`
	Err      *Error           `json:"error"`
}

// BatchReview reviews several requests in one call, each checked and
// recorded by itself, and returns a result per review in order. Its error
// is about the call as a whole (an invalid batch, a missing scope); the
// reviews' own refusals are in the results.
func (c *Client) BatchReview(ctx context.Context, reviews []BatchReviewItem, opts ...CallOption) ([]BatchResult, error) {
	out, err := sendJSON[struct {
		Results []BatchResult `json:"results"`
	}](ctx, c, http.MethodPost, "/v1/approvals:batch-review", struct {
		Reviews []BatchReviewItem `json:"reviews"`
	}{reviews}, opts)
	if err != nil {
		return nil, err
	}
	for _, r := range out.Results {
		if r.Err != nil {
			r.Err.Method, r.Err.Path = http.MethodPost, approvalPath(r.ID)+"/reviews"
		}
	}
	return out.Results, nil
}

// Cancel cancels the request (its requester or an admin may).
func (c *Client) Cancel(ctx context.Context, id, comment string, opts ...CallOption) (*ApprovalRequest, error) {
	return sendJSON[ApprovalRequest](ctx, c, http.MethodPost, approvalPath(id)+"/cancel", struct {
		Comment string `json:"comment,omitempty"`
	}{comment}, opts)
}

// Redeliver delivers the decision on a request in error to its service
// rule again (admin).
func (c *Client) Redeliver(ctx context.Context, id string, opts ...CallOption) (*ApprovalRequest, error) {
	return fetch[ApprovalRequest](ctx, c, &call{method: http.MethodPost, path: approvalPath(id) + "/redeliver", opts: opts})
}

// History returns every change of the request, oldest first, with the
// server's verdict on the hash chain. Check the chain yourself with
// [VerifyChain].
func (c *Client) History(ctx context.Context, id string, opts ...CallOption) (*HistoryPage, error) {
	return getJSON[HistoryPage](ctx, c, approvalPath(id)+"/history", opts)
}

func approvalPath(id string) string { return "/v1/approvals/" + pathEscape(id) }
