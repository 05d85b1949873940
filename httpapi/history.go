package httpapi

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"approvald/access"
	"approvald/approval"
	"approvald/engine"
)

// listHistory answers GET /v1/history: the history entries of every
// request, oldest first, a page at a time, for auditors.
func (s *server) listHistory(w http.ResponseWriter, r *http.Request, _ approval.Principal) error {
	q := r.URL.Query()
	var v approval.Validation
	f := approval.HistoryFilter{Actor: q.Get("actor"), Limit: parseLimit(&v, q.Get("limit"))}
	if a := approval.Action(q.Get("action")); a != "" {
		if !approval.ValidAction(a) {
			names := make([]string, 0, len(approval.Actions()))
			for _, known := range approval.Actions() {
				names = append(names, string(known))
			}
			v.Add("action", "unknown action %q; the actions are %s", a, strings.Join(names, ", "))
		}
		f.Action = a
	}
	if id := q.Get("request_id"); id != "" {
		if !engine.ValidID(id) {
			v.Add("request_id", "is not a request id")
		}
		f.RequestID = id
	}
	if t := q.Get("since"); t != "" {
		if since := parseTime(&v, "since", t); since != nil {
			f.Since = *since
		}
	}
	if t := q.Get("until"); t != "" {
		if until := parseTime(&v, "until", t); until != nil {
			f.Until = *until
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		v.Add("until", "must be after since")
	}
	f.After = parseNumberCursor(&v, q.Get("cursor"))
	if err := v.Err(); err != nil {
		return err
	}
	recs, next, err := s.Engine.ListHistory(r.Context(), f)
	if err != nil {
		return err
	}
	page := listPage[approval.HistoryRecord]{Items: recs, NextCursor: numberCursor(next)}
	if page.Items == nil {
		page.Items = []approval.HistoryRecord{}
	}
	writeJSON(w, http.StatusOK, page)
	return nil
}

// verifyWriteTime is how long, after each batch of a verification, the
// server may still take to write the answer: a walk of every request may
// outlast the server's write timeout, so each batch extends it.
const verifyWriteTime = time.Minute

// verifyHistory answers GET /v1/history/verify: it checks the history chain
// of every request (or of request_id) against the request.
func (s *server) verifyHistory(w http.ResponseWriter, r *http.Request, _ approval.Principal) error {
	id := r.URL.Query().Get("request_id")
	if id != "" && !engine.ValidID(id) {
		var v approval.Validation
		v.Add("request_id", "is not a request id")
		return v.Err()
	}
	rc := http.NewResponseController(w)
	res, err := s.Engine.VerifyHistory(r.Context(), id, func(*approval.Verification) {
		_ = rc.SetWriteDeadline(time.Now().Add(verifyWriteTime)) // not every writer can; then the server's timeout stands
	})
	if err != nil {
		return err
	}
	log := access.Logger(r.Context())
	if res.Verified() {
		log.Info("history verified", "requests", res.Requests, "entries", res.Entries)
	} else {
		first := res.Failures[0]
		log.Error("history does not verify", "requests", res.Requests, "entries", res.Entries,
			"failures", res.FailuresTotal, "approval_id", first.RequestID, "err", first.Error)
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// parseNumberCursor reads the cursor query parameter of a list keyed by a
// positive number (0 for the first page), recording a field error.
func parseNumberCursor(v *approval.Validation, c string) int64 {
	if c == "" {
		return 0
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	n, perr := strconv.ParseInt(string(b), 10, 64)
	if err != nil || perr != nil || n < 1 {
		v.Add("cursor", "is not a cursor returned by this API")
		return 0
	}
	return n
}

// numberCursor returns the opaque cursor of the page after n, nil for 0
// (the last page).
func numberCursor(n int64) *string {
	if n == 0 {
		return nil
	}
	c := base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(n, 10)))
	return &c
}
