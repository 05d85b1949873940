package legacy

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"approvald/approval"
	"approvald/engine"
	"approvald/internal/httpkit"
)

// List limits of GET /requests.
const (
	DefaultLimit = 20
	MaxLimit     = 100
	// MaxOffset bounds how deep GET /requests pages: the database skips an
	// offset's rows one by one.
	MaxOffset = 10_000
)

// Item is a request in the legacy wire format. ServiceRule is the id of the
// request's service rule, 0 when it has none (or the rule was deleted);
// Deadline is null when the request has none (requests made through the
// native API may not); Status is the numeric status as WireStatus shows
// it (changes_requested as pending, revoked as rejected).
type Item struct {
	ID          string     `json:"id"`
	Title       string     `json:"title"`
	Description string     `json:"description"`
	ServiceRule int64      `json:"service_rule"`
	Deadline    *time.Time `json:"deadline"`
	Status      int        `json:"status"`
	Comment     string     `json:"comment"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

func toItem(r *approval.Request, ruleID int64) Item {
	return Item{
		ID: r.ID, Title: r.Title, Description: r.Description, ServiceRule: ruleID,
		Deadline: r.Deadline, Status: WireStatus(r.Status), Comment: r.Comment,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
}

// item converts r, looking up its service rule's id.
func (s *server) item(ctx context.Context, r *approval.Request) (Item, error) {
	id, err := s.ruleID(ctx, r.ServiceRule)
	if err != nil {
		return Item{}, err
	}
	return toItem(r, id), nil
}

// ruleID returns the id of the rule named name through the engine's rule
// cache, 0 when name is empty or the rule was deleted.
func (s *server) ruleID(ctx context.Context, name string) (int64, error) {
	if name == "" {
		return 0, nil
	}
	rule, err := s.Engine.CachedRule(ctx, name)
	switch {
	case approval.KindOf(err) == approval.KindNotFound:
		return 0, nil
	case err != nil:
		return 0, err
	}
	return rule.ID, nil
}

// ruleByID returns the rule numbered id, or a validation error naming the
// service_rule field when there is none.
func (s *server) ruleByID(ctx context.Context, id int64) (*approval.ServiceRule, error) {
	rule, err := s.Engine.CachedRuleByID(ctx, id)
	if approval.KindOf(err) == approval.KindNotFound {
		var v approval.Validation
		v.Add("service_rule", "no service rule numbered %d exists", id)
		return nil, v.Err()
	}
	return rule, err
}

func malformed(format string, args ...any) error {
	return approval.Errorf(approval.KindMalformed, approval.CodeMalformed, format, args...)
}

// quote quotes a client's value for a message, shortened.
func quote(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strconv.Quote(s)
}

// statusOK is the body of GET /status, encoded once: load balancers ask
// for it all day long.
var statusOK = []byte(`{"status":"ok"}` + "\n")

func (s *server) status(w http.ResponseWriter, _ *http.Request, _ approval.Principal) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(statusOK)
	return nil
}

// oneItem is the body of GET /request: one object under a plural key, as
// the old service answered.
type oneItem struct {
	Item Item `json:"approval_items"`
}

// itemList is the body of GET /requests.
type itemList struct {
	Items []Item `json:"approval_items"`
}

// itemBody is the body of POST and PUT /request.
type itemBody struct {
	Item Item `json:"approval_item"`
}

func (s *server) getRequest(w http.ResponseWriter, r *http.Request, _ approval.Principal) error {
	id := r.URL.Query().Get("id")
	switch {
	case id == "":
		return malformed("missing id: use GET /request?id=<request id>")
	case !engine.ValidID(id):
		return malformed("id must be the id of a request (a UUID), not %s", quote(id))
	}
	req, err := s.Engine.Get(r.Context(), id)
	if err != nil {
		return err
	}
	it, err := s.item(r.Context(), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, oneItem{it})
	return nil
}

// listQuery is the parsed query of GET /requests.
type listQuery struct {
	limit, offset int
	statuses      []approval.Status // empty: all
}

// parseListQuery reads limit, offset and default; anything out of range or
// unknown is a KindMalformed error (the old service answered an unknown
// default with an empty list).
func parseListQuery(r *http.Request) (listQuery, error) {
	q := r.URL.Query()
	lq := listQuery{limit: DefaultLimit, statuses: pendingStatuses}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxLimit {
			return lq, malformed("limit must be a whole number from 1 to %d, not %s", MaxLimit, quote(v))
		}
		lq.limit = n
	}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > MaxOffset {
			return lq, malformed("offset must be a whole number from 0 to %d, not %s", MaxOffset, quote(v))
		}
		lq.offset = n
	}
	switch v := q.Get("default"); v {
	case "", "0":
	case "1":
		lq.statuses = nil
	default:
		return lq, malformed("default must be 0 (pending requests only) or 1 (all requests), not %s", quote(v))
	}
	return lq, nil
}

func (s *server) listRequests(w http.ResponseWriter, r *http.Request, _ approval.Principal) error {
	lq, err := parseListQuery(r)
	if err != nil {
		return err
	}
	reqs, err := s.Engine.ListByDeadline(r.Context(), lq.statuses, lq.offset, lq.limit)
	if err != nil {
		return err
	}
	ids := map[string]int64{}
	out := itemList{Items: make([]Item, len(reqs))}
	for i, req := range reqs {
		id, ok := ids[req.ServiceRule]
		if !ok {
			if id, err = s.ruleID(r.Context(), req.ServiceRule); err != nil {
				return err
			}
			ids[req.ServiceRule] = id
		}
		out.Items[i] = toItem(req, id)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// createRequest makes a new request, with its comment, in one change.
func (s *server) createRequest(w http.ResponseWriter, r *http.Request, p approval.Principal) error {
	body, err := jsonBody.Read(w, r)
	if err != nil {
		return err
	}
	in, err := parseCreate(body)
	if err != nil {
		return err
	}
	rule, err := s.ruleByID(r.Context(), in.ServiceRule)
	if err != nil {
		return err
	}
	d := approval.Draft{Title: in.Title, Description: in.Description, ServiceRule: rule.Name, Deadline: &in.Deadline, Comment: in.Comment}
	c, err := s.Engine.Create(r.Context(), p, d, "", nil)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, itemBody{toItem(c.Request, rule.ID)})
	return nil
}

// updateRequest edits and/or decides a request. With a status, the comment
// belongs to the decision (the review's comment; for a cancel, the
// request's). Field edits are applied first, then the decision; an edit
// that fails decides nothing, a decision that fails leaves the edit done.
func (s *server) updateRequest(w http.ResponseWriter, r *http.Request, p approval.Principal) error {
	body, err := jsonBody.Read(w, r)
	if err != nil {
		return err
	}
	in, err := parsePut(body)
	if err != nil {
		return err
	}
	patch := approval.Patch{Title: in.Title, Description: in.Description}
	if in.Deadline.Set {
		t := in.Deadline.Value
		patch.Deadline = approval.Some(&t)
	}
	decisionComment := ""
	if in.Status == approval.StatusUnknown {
		patch.Comment = in.Comment
	} else {
		decisionComment = in.Comment.Value
	}
	editing := patch.Title.Set || patch.Description.Set || patch.Deadline.Set || patch.Comment.Set || in.ServiceRule.Set

	var scopes []approval.Scope
	if editing || in.Status == approval.StatusCancelled {
		scopes = append(scopes, approval.ScopeCreate)
	}
	if in.Status == approval.StatusApproved || in.Status == approval.StatusRejected {
		scopes = append(scopes, approval.ScopeReview)
	}
	if len(scopes) == 0 {
		scopes = append(scopes, approval.ScopeRead)
	}
	if err := httpkit.NeedScopes(p, scopes...); err != nil {
		return err
	}
	if in.ServiceRule.Set {
		rule, err := s.ruleByID(r.Context(), in.ServiceRule.Value)
		if err != nil {
			return err
		}
		patch.ServiceRule = approval.Some(rule.Name)
	}

	ctx := r.Context()
	var req *approval.Request
	if editing {
		if req, err = s.Engine.Edit(ctx, p, in.ID, patch, nil); err != nil {
			return err
		}
	}
	switch in.Status {
	case approval.StatusApproved:
		req, err = s.Engine.Review(ctx, p, in.ID, approval.ReviewInput{Decision: approval.DecisionApprove, Comment: decisionComment}, nil)
	case approval.StatusRejected:
		req, err = s.Engine.Review(ctx, p, in.ID, approval.ReviewInput{Decision: approval.DecisionReject, Comment: decisionComment}, nil)
	case approval.StatusCancelled:
		req, err = s.Engine.Cancel(ctx, p, in.ID, decisionComment, nil)
	default:
		if req == nil {
			req, err = s.Engine.Get(ctx, in.ID)
		}
	}
	if err != nil {
		return err
	}
	it, err := s.item(ctx, req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, itemBody{it})
	return nil
}
