package web

import (
	"fmt"
	"net/http"
	"strings"

	"approvald/access"
	"approvald/approval"
)

// bulkResult is what became of one request of a bulk review.
type bulkResult struct {
	ID    string
	Title string
	// OK: the review was recorded; Status is then the request's status
	// after it, else Message says why it was refused.
	OK      bool
	Status  shownStatus
	Message string
}

// bulkData is the data of the bulk review's summary page.
type bulkData struct {
	Decision approval.Decision
	Results  []bulkResult
	Done     int // reviews recorded
	Refused  int
}

// versionField is the name of the hidden field that carries the version
// of a request as the inbox listed it.
func versionField(id string) string { return "version:" + id }

// reviewSelected approves or rejects the requests selected in the inbox:
// each one reviewed by itself through the engine (checked and recorded as
// if reviewed alone, refused if it changed since the inbox listed it),
// then a page lists what became of each.
func (s *server) reviewSelected(w http.ResponseWriter, r *http.Request, sess *session) error {
	ids := r.PostForm["id"]
	d := bulkData{Decision: approval.Decision(r.PostFormValue("decision"))}
	comment := formComment(r)
	var v approval.Validation
	if d.Decision != approval.DecisionApprove && d.Decision != approval.DecisionReject {
		v.Add("decision", "must be %q or %q", approval.DecisionApprove, approval.DecisionReject)
	}
	switch {
	case len(ids) == 0:
		v.Add("id", "select at least one request")
	case len(ids) > approval.MaxBatchReview:
		v.Add("id", "select at most %d requests at once", approval.MaxBatchReview)
	}
	if err := v.Err(); err != nil {
		return err
	}
	ctx := r.Context()
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		res := bulkResult{ID: id, Title: id}
		err := func() error {
			req, err := s.Engine.Get(ctx, id)
			if err != nil {
				return err
			}
			res.Title = req.Title
			if err := commentNeeded(req, d.Decision, comment); err != nil {
				return err
			}
			in := approval.ReviewInput{Decision: d.Decision, Comment: comment}
			if in.Seen, err = versionOf(r, id); err != nil {
				return err
			}
			after, err := s.Engine.Review(ctx, sess.P, id, in, nil)
			if err != nil {
				return err
			}
			res.OK, res.Status = true, requestStatus(after)
			return nil
		}()
		if err != nil {
			res.Message = approval.AsError(err).Message
			if approval.KindOf(err) == approval.KindInternal {
				// As the error page: the cause goes to the log only.
				access.Logger(ctx).Error("bulk review failed", "approval_id", id, "err", err)
				res.Message = "internal error (request id " + access.RequestID(ctx) + ")"
			}
			d.Refused++
		} else {
			d.Done++
		}
		d.Results = append(d.Results, res)
	}
	label := decisionLabel(d.Decision)
	title := fmt.Sprintf("%s%s %d of %d", strings.ToUpper(label[:1]), label[1:], d.Done, len(d.Results))
	s.render(w, r, sess, http.StatusOK, "bulk", title, d)
	return nil
}

// versionOf returns the version of request id the inbox listed, nil when
// the form does not say.
func versionOf(r *http.Request, id string) (*int64, error) {
	if !r.PostForm.Has(versionField(id)) {
		return nil, nil
	}
	var n int64
	if _, err := fmt.Sscan(r.PostFormValue(versionField(id)), &n); err != nil {
		var v approval.Validation
		v.Add("version", "must be a whole number")
		return nil, v.Err()
	}
	return &n, nil
}
