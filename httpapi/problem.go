package httpapi

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"approvald/access"
	"approvald/approval"
	"approvald/internal/httpkit"
)

// Problem is an RFC 9457 problem detail, with approvald's stable code and
// the invalid fields of a validation failure.
type Problem struct {
	Type      string                `json:"type"`
	Title     string                `json:"title"`
	Status    int                   `json:"status"`
	Detail    string                `json:"detail"`
	Code      string                `json:"code"`
	Instance  string                `json:"instance,omitempty"`
	RequestID string                `json:"request_id,omitempty"`
	Errors    []approval.FieldError `json:"errors,omitempty"`
}

// problemTypeBase prefixes every problem type: the /docs page explains each code.
const problemTypeBase = "/docs#problem-"

// writeError answers err as problem+json (see httpkit.Renderer.Fail):
// internal errors are logged with their cause and shown to the client only
// as "internal error".
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	httpkit.Renderer(writeProblem).Fail(w, r, err)
}

// writeProblem is the API's httpkit.Renderer.
func writeProblem(w http.ResponseWriter, r *http.Request, status int, e *approval.Error) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="approvald"`)
	}
	p := problemOf(r, status, e)
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(p); err != nil {
		access.Logger(r.Context()).Debug("writing problem failed", slog.Any("err", err))
	}
}

// problemOf returns the problem of e, answered with status to r: the
// body of an error response, and the error of one review of a batch.
func problemOf(r *http.Request, status int, e *approval.Error) Problem {
	return Problem{
		Type:      problemTypeBase + e.Code,
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    e.Message,
		Code:      e.Code,
		Instance:  r.URL.Path,
		RequestID: access.RequestID(r.Context()),
		Errors:    e.Fields,
	}
}

// writeJSON writes v as JSON with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeUnencodable(w)
		return
	}
	writeRaw(w, status, b)
}

// writeUnencodable answers 500 when an answer could not be encoded (which
// only a bug can cause), with a problem written out by hand.
func writeUnencodable(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = w.Write([]byte(`{"type":"/docs#problem-internal","title":"Internal Server Error","status":500,"detail":"internal error","code":"internal"}`))
}

// writeRaw writes already-encoded JSON.
func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	_, _ = w.Write([]byte("\n"))
}
