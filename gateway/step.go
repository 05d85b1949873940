package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"approvald/approval"
	"approvald/engine"
	"approvald/gateway/calllog"
	"approvald/jsonstrict"
)

// Step is the approval step on the engine: a successful package opens an
// approval request for the run (its Subject names the run), publish is
// forwarded only once the newest request of the run is approved, and what
// was published is recorded as the request's outcome, in its history.
type Step struct {
	Engine *engine.Engine
	// PolicyName names the stored policy of the requests; "" leaves it to
	// ServiceRule's policy or the server default.
	PolicyName string
	// ServiceRule, when set, is named by the requests: the decision is
	// delivered there like any other.
	ServiceRule string
}

// stepPrincipal cancels the request of a run that was packaged again: the
// gateway acts for the platform, whoever packaged before.
var stepPrincipal = approval.Principal{ID: "system:gateway", Scopes: []approval.Scope{approval.ScopeAdmin}}

// Subject returns the approval request subject of run:
// "cr8tor:<project_name>/<project_start_time>", whatever the start time's
// format (YYYYMMDD_HHMMSS, or ISO-8601 with its colons and offset, as the
// karectl fork sends it: the string as given, so that two spellings of one
// instant are two runs, as they are for the Publish service's folders).
// When that is longer than a subject may be (each field may be as long
// as a subject), it is "cr8tor#<SHA-256 of the two fields>:" and as much
// of the readable form as fits, ending with "…": still one subject per
// run, and never the readable subject of another run.
func Subject(run Run) string {
	s := "cr8tor:" + subjectPart.Replace(run.ProjectName) + "/" + subjectPart.Replace(run.StartTime)
	if utf8.RuneCountInString(s) <= approval.MaxSubjectLen {
		return s
	}
	sum := sha256.Sum256([]byte(run.ProjectName + "\x00" + run.StartTime))
	head := "cr8tor#" + hex.EncodeToString(sum[:]) + ":"
	keep := approval.MaxSubjectLen - utf8.RuneCountInString(head) - 1
	return head + string([]rune(run.ProjectName + "/" + run.StartTime)[:keep]) + "…"
}

// subjectPart escapes '%' and '/' in a subject's name and time, so that
// one subject names one run: otherwise runs ("a", "b/c") and ("a/b", "c")
// would share "cr8tor:a/b/c", and one's approval would let the other
// publish. Names and times without either read as they always did.
var subjectPart = strings.NewReplacer("%", "%25", "/", "%2F")

// maxStoredList bounds how many staged files a request's payload lists.
const maxStoredList = 1000

// Packaged opens the run's approval request, cancelling an open one
// (pending, changes requested, or failed delivery): the staged data
// changed, so what was being reviewed is gone. The payload is the package
// request (which names credentials, never holds them) and the staged file
// list; when the Publish service reported every staged file with its
// SHA-512 and size, the files are also the request's items, decided one by
// one (see packageItems).
func (s *Step) Packaged(ctx context.Context, caller approval.Principal, run Run, body []byte, payload json.RawMessage) (string, error) {
	prev, err := s.latest(ctx, run)
	if err != nil {
		return "", err
	}
	if prev != nil && (prev.Status == approval.StatusPending || prev.Status == approval.StatusError || prev.Status == approval.StatusChangesRequested) {
		_, err := s.Engine.Cancel(ctx, stepPrincipal, prev.ID, "superseded: the run was packaged again", nil)
		if err != nil && approval.KindOf(err) != approval.KindConflict {
			return "", err
		}
	}
	content, err := requestPayload(body, payload)
	if err != nil {
		return "", err
	}
	requester := approval.Principal{ID: caller.ID, Groups: caller.Groups, Scopes: []approval.Scope{approval.ScopeCreate}}
	title := "Publish " + run.String()
	if utf8.RuneCountInString(title) > approval.MaxTitleLen {
		title = string([]rune(title)[:approval.MaxTitleLen-1]) + "…"
	}
	desc := "Opened by the CR8TOR gateway after a successful package; publish is forwarded once this request is approved."
	items := packageItems(payload)
	if len(items) > 0 {
		desc = "Opened by the CR8TOR gateway after a successful package; publish is forwarded once this request and every one of its files are approved."
	}
	if prev != nil && prev.Status == approval.StatusRevoked {
		// Reviewers of the new request should know what happened to the
		// last one: its approval was taken back.
		reason := "no reason was recorded"
		if prev.Revocation != nil && prev.Revocation.Reason != "" {
			reason = shorten(prev.Revocation.Reason, 500)
		}
		desc += fmt.Sprintf(" The approval of the run's previous request, %s, was revoked: %s", prev.ID, reason)
	}
	c, err := s.Engine.Create(ctx, requester, approval.Draft{
		Title:       title,
		Description: desc,
		Payload:     content, ServiceRule: s.ServiceRule, PolicyName: s.PolicyName, Subject: Subject(run),
		Items: items, Origin: approval.OriginCR8TOR,
	}, "", nil)
	if err != nil {
		return "", err
	}
	return c.Request.ID, nil
}

// requestPayload builds the approval request's payload from the package
// body and the Publish service's payload, listing at most maxStoredList
// staged items so the payload stays under its size limit.
func requestPayload(body []byte, staged json.RawMessage) (json.RawMessage, error) {
	var list map[string]json.RawMessage
	if json.Unmarshal(staged, &list) == nil {
		for k, v := range list {
			var items []json.RawMessage
			if json.Unmarshal(v, &items) == nil && len(items) > maxStoredList {
				trimmed, _ := json.Marshal(items[:maxStoredList])
				list[k] = trimmed
				list[k+"_total"] = json.RawMessage(fmt.Sprint(len(items)))
			}
		}
		staged, _ = json.Marshal(list)
	}
	out, err := json.Marshal(map[string]json.RawMessage{"request": body, "staged": staged})
	if err != nil {
		return nil, approval.Internal(err)
	}
	if !fits(out) {
		out, _ = json.Marshal(map[string]any{"request": json.RawMessage(body), "staged": "too large or too deeply nested to keep; see the Publish service"})
	}
	if !fits(out) {
		out, _ = json.Marshal(map[string]any{"request": "too large or too deeply nested to keep", "staged": "too large or too deeply nested to keep"})
	}
	return out, nil
}

// fits reports whether a payload is within the limits of one: its size,
// and, as the gateway's own body is, strict JSON nested no deeper than a
// payload may be (the Publish service's answer was never checked).
func fits(payload []byte) bool {
	return len(payload) <= approval.MaxPayloadBytes && jsonstrict.Check(payload, strict) == nil
}

// MayPublish allows publish when the run's newest request is approved and,
// when it has items, every item is approved (see publishable). A revoked
// approval is refused with its reason (Revoked); a request waiting for its
// requester's changes is not approved yet, as a pending one.
func (s *Step) MayPublish(ctx context.Context, _ approval.Principal, run Run) error {
	r, err := s.latest(ctx, run)
	switch {
	case err != nil:
		return err
	case r == nil:
		return approval.Errorf(approval.KindNotFound, approval.CodeNotFound, "no approval request exists for %s", run)
	}
	return publishable(run, r)
}

// Published records the Publish service's payload (the files with their
// sizes and SHA-512 hashes) as the outcome of the run's approved request.
// When the request has items, a published file that is not an approved
// item with the same SHA-512 is listed in the outcome's "not_approved" and
// makes Published return an error (the gateway logs it; the data is
// published).
func (s *Step) Published(ctx context.Context, caller approval.Principal, run Run, payload json.RawMessage) error {
	r, err := s.latest(ctx, run)
	if err != nil || r == nil {
		return fmt.Errorf("recording the publish of %s: no approval request (%v)", run, err)
	}
	record := map[string]any{"published": payload, "by": caller.ID, "at": time.Now().UTC()}
	unapproved := publishedNotApproved(r, payload)
	if len(unapproved) > 0 {
		record["not_approved"] = unapproved
	}
	outcome, err := json.Marshal(record)
	if err != nil {
		return err
	}
	if _, err = s.Engine.RecordOutcome(ctx, caller, r.ID, outcome); err != nil {
		return err
	}
	if len(unapproved) > 0 {
		return fmt.Errorf("%s: the Publish service published %d files that are not among the approved items with the same SHA-512 (recorded in the outcome of %s): %s",
			run, len(unapproved), r.ID, strings.Join(unapproved[:min(len(unapproved), maxNamedFiles)], ", "))
	}
	return nil
}

// publishedNotApproved returns the paths of the files the publish answer
// payload lists that r, a request with items, did not approve under the
// SHA-512 they were published with: the data changed between package and
// publish. Nothing can be refused by then, but the outcome says so and
// the operator's log too. A request without items approved the run as a
// whole: nil.
func publishedNotApproved(r *approval.Request, payload json.RawMessage) []string {
	if len(r.Items) == 0 {
		return nil
	}
	approved := map[string]bool{}
	if r.ItemOutcome != nil {
		for _, it := range r.ItemOutcome.Approved {
			approved[it.ID+"\x00"+it.Digest] = true
		}
	}
	var published struct {
		DataPublished []stagedFile `json:"data_published"`
	}
	_ = json.Unmarshal(payload, &published)
	var out []string
	for _, f := range published.DataPublished {
		if f.FilePath == "" {
			continue
		}
		if !approved[itemID(f.FilePath)+"\x00sha512:"+strings.ToLower(f.HashValue)] {
			out = append(out, f.FilePath)
		}
	}
	return out
}

// latest returns the newest request of run, or nil.
func (s *Step) latest(ctx context.Context, run Run) (*approval.Request, error) {
	rs, _, err := s.Engine.List(ctx, approval.Filter{Subject: Subject(run), Limit: 1})
	if err != nil || len(rs) == 0 {
		return nil, err
	}
	return rs[0], nil
}

// StoreRecorder keeps every gateway call in the store's gateway call log.
// Calls that finish while a write is in progress are written together in
// the next one (a group commit): each Record still returns only once its
// call is committed, but the database sees one transaction per batch, not
// one per call. The zero value is not usable: set Store; never copy one.
type StoreRecorder struct {
	Store interface {
		RecordGatewayCalls(ctx context.Context, calls []*calllog.Record) error
	}
	Logger interface{ Error(msg string, args ...any) }

	mu      sync.Mutex
	writing bool       // a batch is being written
	next    *callBatch // calls waiting for the next write, nil if none
}

// callBatch is calls written in one transaction. done is closed once they
// are; lead hands the next write to one of the batch's callers.
type callBatch struct {
	calls []*calllog.Record
	done  chan struct{}
	lead  chan struct{} // buffered, 1
	err   error
}

// Record stores c and returns once it is committed; a failure is logged
// (the call has been answered).
func (s *StoreRecorder) Record(ctx context.Context, c Call) {
	gc := &calllog.Record{
		At: c.At, Caller: c.Caller, Route: c.Route, ProjectName: c.Run.ProjectName, StartTime: c.Run.StartTime,
		UpstreamStatus: c.UpstreamStatus, Status: c.Status, DurationMicros: c.Duration.Microseconds(),
		Detail: c.Detail, ApprovalRequest: c.ApprovalRequest,
	}
	s.mu.Lock()
	if s.next == nil {
		s.next = &callBatch{done: make(chan struct{}), lead: make(chan struct{}, 1)}
	}
	b := s.next
	b.calls = append(b.calls, gc)
	leader := !s.writing
	s.writing = true
	s.mu.Unlock()
	if !leader {
		select {
		case <-b.done:
		case <-b.lead:
			s.write(ctx, b)
		}
	}
	if leader {
		s.write(ctx, b)
	}
	if b.err != nil && s.Logger != nil {
		s.Logger.Error("recording gateway calls failed", "calls", len(b.calls), "err", b.err)
	}
}

// write writes b, which no call joins any more, then hands the writing on
// to a caller of the batch that gathered meanwhile, if any.
func (s *StoreRecorder) write(ctx context.Context, b *callBatch) {
	s.mu.Lock()
	if s.next == b {
		s.next = nil
	}
	s.mu.Unlock()
	b.err = s.Store.RecordGatewayCalls(ctx, b.calls)
	close(b.done)
	s.mu.Lock()
	if s.next != nil {
		s.next.lead <- struct{}{}
	} else {
		s.writing = false
	}
	s.mu.Unlock()
}

// KeyLocker adapts a lock by string key (PostgreSQL's advisory locks, see
// store/postgres.Store.TryLock) into a Locker shared by every instance.
type KeyLocker func(ctx context.Context, key string) (unlock func(), ok bool, err error)

// TryLock takes the lock of run's key.
func (k KeyLocker) TryLock(ctx context.Context, run Run) (func(), bool, error) {
	return k(ctx, "cr8tor-run:"+strings.ReplaceAll(run.ProjectName, "\x00", "")+"\x00"+run.StartTime)
}
