package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"approvald/access"
	"approvald/approval"
	"approvald/internal/httpkit"
)

// MaxBodyBytes is the largest request body accepted; larger ones get 413.
const MaxBodyBytes = 1 << 20

// jsonBody is how request bodies are read: JSON, at most MaxBodyBytes;
// optionalBody may be empty too.
var (
	jsonBody     = httpkit.Body{Limit: MaxBodyBytes}
	optionalBody = httpkit.Body{Limit: MaxBodyBytes, Optional: true}
)

// List paging limits.
const (
	defaultListLimit = 50
	maxListLimit     = 200
	// MaxIdempotencyKeyLen bounds the Idempotency-Key header.
	MaxIdempotencyKeyLen = 255
)

// etag returns the strong ETag of a request version.
func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// ifMatch parses the If-Match header: nil when absent or "*", else the
// version the client expects.
func ifMatch(r *http.Request) (*int64, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" || h == "*" {
		return nil, nil
	}
	if strings.HasPrefix(h, "W/") {
		// If-Match compares strongly (RFC 9110 13.1.1): a weak tag never matches.
		return nil, approval.Errorf(approval.KindPrecondition, approval.CodeVersionMismatch,
			`If-Match needs a strong ETag such as "3"; a weak one (W/…) never matches`)
	}
	v := h
	if unq, err := strconv.Unquote(v); err == nil {
		v = unq
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		return nil, approval.Errorf(approval.KindMalformed, approval.CodeMalformed,
			`If-Match must be one ETag of this API, such as "3", not %q`, h)
	}
	return &n, nil
}

// noneMatch reports whether an If-None-Match header matches version: "*",
// or a list of ETags one of which equals it under weak comparison.
func noneMatch(h string, version int64) bool {
	for tag := range strings.SplitSeq(h, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == "*" || tag == etag(version) {
			return true
		}
	}
	return false
}

func writeRequest(w http.ResponseWriter, status int, req *approval.Request) {
	w.Header().Set("ETag", etag(req.Version))
	writeJSON(w, status, req)
}

// parseTime parses an RFC 3339 time for field, recording a field error.
func parseTime(v *approval.Validation, field, s string) *time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		v.Add(field, "must be an RFC 3339 time such as 2030-01-02T15:04:05Z")
		return nil
	}
	return &t
}

type createBody struct {
	Title       string           `json:"title"`
	Description string           `json:"description"`
	Payload     json.RawMessage  `json:"payload"`
	ServiceRule string           `json:"service_rule"`
	Deadline    *string          `json:"deadline"`
	Policy      *approval.Policy `json:"policy"`
	PolicyName  string           `json:"policy_name"`
	DependsOn   []string         `json:"depends_on"`
	RemindAfter json.RawMessage  `json:"remind_after"`
	Subject     string           `json:"subject"`
	Comment     string           `json:"comment"`
	// Justification is the requester's reason (a policy may require it);
	// Items are what reviewers may decide one by one.
	Justification string          `json:"justification"`
	Items         []approval.Item `json:"items"`
}

// parseDuration reads a duration field: a string such as "30m" or a number
// of seconds; null or absent is 0.
func parseDuration(v *approval.Validation, field string, raw json.RawMessage) approval.Duration {
	var d approval.Duration
	if len(raw) == 0 || string(raw) == "null" {
		return 0
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		v.Add(field, "%s", err.Error())
	}
	return d
}

func (s *server) createApproval(w http.ResponseWriter, r *http.Request, p approval.Principal) error {
	key := r.Header.Get("Idempotency-Key")
	if utf8.RuneCountInString(key) > MaxIdempotencyKeyLen {
		var v approval.Validation
		v.Add("Idempotency-Key", "must be at most %d characters", MaxIdempotencyKeyLen)
		return v.Err()
	}
	var in createBody
	body, err := jsonBody.ReadJSON(w, r, &in, "payload")
	if err != nil {
		return err
	}
	d := approval.Draft{
		Title: in.Title, Description: in.Description, Payload: in.Payload, ServiceRule: in.ServiceRule,
		Policy: in.Policy, PolicyName: in.PolicyName, DependsOn: in.DependsOn, Subject: in.Subject, Comment: in.Comment,
		Justification: in.Justification, Items: in.Items,
	}
	var v approval.Validation
	if in.Deadline != nil {
		d.Deadline = parseTime(&v, "deadline", *in.Deadline)
	}
	d.RemindAfter = parseDuration(&v, "remind_after", in.RemindAfter)
	if err := v.Err(); err != nil {
		return err
	}
	c, err := s.Engine.Create(r.Context(), p, d, key, body)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/approvals/"+c.Request.ID)
	w.Header().Set("ETag", etag(c.Request.Version))
	if c.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	writeRaw(w, http.StatusCreated, c.Body)
	return nil
}

func (s *server) getApproval(w http.ResponseWriter, r *http.Request, p approval.Principal) error {
	wait, after, err := waitParams(r)
	if err != nil {
		return err
	}
	req, err := s.awaitChange(r, p, r.PathValue("id"), wait, after)
	if err != nil {
		return err
	}
	if noneMatch(r.Header.Get("If-None-Match"), req.Version) {
		w.Header().Set("ETag", etag(req.Version))
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	writeRequest(w, http.StatusOK, req)
	return nil
}

// listPage is the body of a list response.
type listPage[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

func (s *server) listApprovals(w http.ResponseWriter, r *http.Request, p approval.Principal) error {
	q := r.URL.Query()
	if q.Has("awaiting") {
		return s.inbox(w, r, p)
	}
	var v approval.Validation
	f := approval.Filter{Requester: q.Get("requester"), ServiceRule: q.Get("service_rule"), Subject: q.Get("subject"), Limit: defaultListLimit}
	// The text filters follow the fields' own rules, so that a value no
	// request can hold (a NUL, invalid UTF-8) is 422 naming the filter on
	// every store, not a match of nothing on one and an error on another.
	approval.CheckLine(&v, "requester", f.Requester, approval.MaxPrincipalLen, false)
	approval.CheckLine(&v, "service_rule", f.ServiceRule, approval.MaxServiceRuleLen, false)
	approval.CheckLine(&v, "subject", f.Subject, approval.MaxSubjectLen, false)
	for _, name := range q["status"] {
		for part := range strings.SplitSeq(name, ",") {
			st, err := approval.ParseStatus(part)
			if err != nil {
				v.Add("status", "unknown status %q", part)
				continue
			}
			f.Statuses = append(f.Statuses, st)
		}
	}
	f.Limit = parseLimit(&v, q.Get("limit"))
	f.Before = parseCursor(&v, q.Get("cursor"))
	if err := v.Err(); err != nil {
		return err
	}
	items, next, err := s.Engine.List(r.Context(), f)
	if err != nil {
		return err
	}
	writeRequests(w, items, next)
	return nil
}

// inbox answers GET /v1/approvals?awaiting=me: the pending requests awaiting
// the caller's review, oldest first.
func (s *server) inbox(w http.ResponseWriter, r *http.Request, p approval.Principal) error {
	q := r.URL.Query()
	var v approval.Validation
	if q.Get("awaiting") != "me" {
		v.Add("awaiting", `must be "me"`)
	}
	for name := range q {
		switch name {
		case "awaiting", "limit", "cursor":
		default:
			v.Add(name, "cannot be combined with awaiting=me (only limit and cursor can)")
		}
	}
	limit := parseLimit(&v, q.Get("limit"))
	after := parseCursor(&v, q.Get("cursor"))
	if err := v.Err(); err != nil {
		return err
	}
	items, next, err := s.Engine.Inbox(r.Context(), p, after, limit)
	if err != nil {
		return err
	}
	writeRequests(w, items, next)
	return nil
}

// unpaged refuses query parameters on a list that returns every item at
// once (service rules, stored policies, API keys): a cursor or a limit
// there would be silently ignored, and a client would take one page for
// the whole list.
func unpaged(r *http.Request) error {
	var v approval.Validation
	for name := range r.URL.Query() {
		v.Add(name, "this list is not paged and takes no query parameters; it returns every item")
	}
	return v.Err()
}

// parseLimit reads the limit query parameter ("" is the default).
func parseLimit(v *approval.Validation, l string) int {
	if l == "" {
		return defaultListLimit
	}
	n, err := strconv.Atoi(l)
	if err != nil || n < 1 || n > maxListLimit {
		v.Add("limit", "must be a whole number from 1 to %d", maxListLimit)
	}
	return n
}

// parseCursor reads the cursor query parameter: an opaque encoding of the
// id a page ended at ("" for the first page).
func parseCursor(v *approval.Validation, c string) string {
	if c == "" {
		return ""
	}
	id, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(id) == 0 || len(id) > 64 {
		v.Add("cursor", "is not a cursor returned by this API")
	}
	return string(id)
}

// writeRequests writes a page of requests and the cursor of the next.
func writeRequests(w http.ResponseWriter, items []*approval.Request, next string) {
	// The page is put together from each request's own encoding: through
	// json.Marshal, every request's JSON would be checked and compacted a
	// second time, a quarter of a list's CPU.
	buf := make([]byte, 0, 64+len(items)*2048)
	buf = append(buf, `{"items":[`...)
	for i, r := range items {
		if i > 0 {
			buf = append(buf, ',')
		}
		b, err := r.MarshalJSON()
		if err != nil {
			writeUnencodable(w)
			return
		}
		buf = append(buf, b...)
	}
	buf = append(buf, `],"next_cursor":`...)
	if next != "" {
		buf = strconv.AppendQuote(buf, base64.RawURLEncoding.EncodeToString([]byte(next)))
	} else {
		buf = append(buf, "null"...)
	}
	buf = append(buf, '}')
	writeRaw(w, http.StatusOK, buf)
}

// patchable are the fields a PATCH body may hold; others get a pointer to
// the route that changes them.
var notPatchable = map[string]string{
	"status":       "use POST /v1/approvals/{id}/reviews, /resubmit, /revoke or /cancel to change the status",
	"status_code":  "use POST /v1/approvals/{id}/reviews, /resubmit, /revoke or /cancel to change the status",
	"cycle":        "use POST /v1/approvals/{id}/resubmit to send the request again",
	"revocation":   "use POST /v1/approvals/{id}/revoke to revoke an approval",
	"item_outcome": "the item outcome follows from the reviews",
	"reviews":      "use POST /v1/approvals/{id}/reviews to review",
	"depends_on":   "dependencies are fixed when a request is created",
	"subject":      "the subject is fixed when a request is created",
	"outcome":      "the outcome is recorded by the service that acted on the approval",
	"policy_name":  "send the policy itself (admins only)",
}

func (s *server) editApproval(w http.ResponseWriter, r *http.Request, p approval.Principal) error {
	expect, err := ifMatch(r)
	if err != nil {
		return err
	}
	var raw map[string]json.RawMessage
	if _, err := jsonBody.ReadJSON(w, r, &raw, "payload"); err != nil {
		return err
	}
	patch, err := parsePatch(raw)
	if err != nil {
		return err
	}
	req, err := s.Engine.Edit(r.Context(), p, r.PathValue("id"), patch, expect)
	if err != nil {
		return err
	}
	writeRequest(w, http.StatusOK, req)
	return nil
}

// parsePatch turns a JSON merge-patch object into an approval.Patch; null
// clears the optional fields.
func parsePatch(raw map[string]json.RawMessage) (approval.Patch, error) {
	var (
		p approval.Patch
		v approval.Validation
	)
	str := func(field string, val json.RawMessage, nullable bool) approval.Field[string] {
		if string(val) == "null" {
			if !nullable {
				v.Add(field, "must not be null")
			}
			return approval.Some("")
		}
		var s string
		if err := json.Unmarshal(val, &s); err != nil {
			v.Add(field, "must be a string")
		}
		return approval.Some(s)
	}
	for field, val := range raw {
		switch field {
		case "title":
			p.Title = str(field, val, false)
		case "description":
			p.Description = str(field, val, true)
		case "comment":
			p.Comment = str(field, val, true)
		case "service_rule":
			p.ServiceRule = str(field, val, true)
		case "payload":
			p.Payload = approval.Some(val)
		case "policy":
			var pol approval.Policy
			if err := httpkit.Decode(val, &pol); err != nil || string(val) == "null" {
				v.Add(field, "must be a policy object with rules or stages")
				continue
			}
			p.Policy = approval.Some(pol)
		case "justification":
			p.Justification = str(field, val, true)
		case "items":
			p.Items = approval.Some(parseItems(&v, field, val))
		case "remind_after":
			p.RemindAfter = approval.Some(parseDuration(&v, field, val))
		case "deadline":
			p.Deadline = approval.Some[*time.Time](nil)
			if string(val) != "null" {
				var s string
				if err := json.Unmarshal(val, &s); err != nil {
					v.Add(field, "must be an RFC 3339 time or null")
					continue
				}
				p.Deadline.Value = parseTime(&v, field, s)
			}
		default:
			if why, ok := notPatchable[field]; ok {
				v.Add(field, "cannot be changed with PATCH: %s", why)
			} else {
				v.Add(field, "is not a field that can be edited")
			}
		}
	}
	return p, v.Err()
}

// parseItems reads the items of a PATCH strictly (unknown fields refused),
// recording the field errors under field; null is no items.
func parseItems(v *approval.Validation, field string, raw json.RawMessage) []approval.Item {
	if string(raw) == "null" {
		return nil
	}
	var items []approval.Item
	if err := httpkit.Decode(raw, &items); err != nil {
		e := approval.AsError(err)
		if len(e.Fields) == 0 {
			v.Add(field, "must be an array of items: %s", e.Message)
		}
		for _, f := range e.Fields {
			v.Add(field+"."+f.Field, "%s", f.Message)
		}
		return nil
	}
	if items == nil {
		items = []approval.Item{}
	}
	return items
}

type reviewBody struct {
	Decision approval.Decision `json:"decision"`
	Comment  string            `json:"comment"`
	// Version is the version the reviewer saw; a stale one is refused.
	Version *int64 `json:"version"`
	// Digest is the content digest the reviewer saw; another is refused.
	Digest string `json:"content_digest"`
	// OnBehalfOf names the delegator the caller reviews for, under a
	// delegation in force now (the engine checks it).
	OnBehalfOf string `json:"on_behalf_of"`
	// Items decides the request's items one by one.
	Items []approval.ItemDecision `json:"items"`
}

func (s *server) reviewApproval(w http.ResponseWriter, r *http.Request, p approval.Principal) error {
	expect, err := ifMatch(r)
	if err != nil {
		return err
	}
	var in reviewBody
	if _, err := jsonBody.ReadJSON(w, r, &in); err != nil {
		return err
	}
	review := approval.ReviewInput{Decision: in.Decision, Comment: in.Comment, Seen: in.Version, SeenDigest: in.Digest,
		OnBehalfOf: in.OnBehalfOf, Items: in.Items}
	req, err := s.Engine.Review(r.Context(), p, r.PathValue("id"), review, expect)
	if err != nil {
		return err
	}
	writeRequest(w, http.StatusOK, req)
	return nil
}

type cancelBody struct {
	Comment string `json:"comment"`
}

func (s *server) cancelApproval(w http.ResponseWriter, r *http.Request, p approval.Principal) error {
	expect, err := ifMatch(r)
	if err != nil {
		return err
	}
	var in cancelBody
	if _, err := optionalBody.ReadJSON(w, r, &in); err != nil {
		return err
	}
	req, err := s.Engine.Cancel(r.Context(), p, r.PathValue("id"), in.Comment, expect)
	if err != nil {
		return err
	}
	writeRequest(w, http.StatusOK, req)
	return nil
}

// historyPage is the body of a history response: the entries and whether
// their hash chain verifies.
type historyPage struct {
	Items       []approval.HistoryEntry `json:"items"`
	Verified    bool                    `json:"verified"`
	VerifyError string                  `json:"verify_error,omitempty"`
}

func (s *server) history(w http.ResponseWriter, r *http.Request, _ approval.Principal) error {
	chain, err := s.Engine.History(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	// The verdict checks the chain against the request's version and head
	// too, so a deleted newest entry is caught, not just the entries listed.
	page := historyPage{Items: chain.Entries, Verified: true}
	if err := chain.Verify(); err != nil {
		page.Verified, page.VerifyError = false, err.Error()
		access.Logger(r.Context()).Error("history chain does not verify", "approval_id", r.PathValue("id"), "err", err)
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}
