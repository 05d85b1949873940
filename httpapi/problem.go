package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"approvald/access"
	"approvald/approval"
)

// statusOf is the one mapping from error kinds to HTTP statuses.
var statusOf = map[approval.Kind]int{
	approval.KindInternal:         http.StatusInternalServerError,
	approval.KindMalformed:        http.StatusBadRequest,
	approval.KindInvalid:          http.StatusUnprocessableEntity,
	approval.KindUnauthenticated:  http.StatusUnauthorized,
	approval.KindForbidden:        http.StatusForbidden,
	approval.KindNotFound:         http.StatusNotFound,
	approval.KindConflict:         http.StatusConflict,
	approval.KindPrecondition:     http.StatusPreconditionFailed,
	approval.KindTooLarge:         http.StatusRequestEntityTooLarge,
	approval.KindUnsupportedMedia: http.StatusUnsupportedMediaType,
	approval.KindUnavailable:      http.StatusServiceUnavailable,
	approval.KindMethodNotAllowed: http.StatusMethodNotAllowed,
	approval.KindRateLimited:      http.StatusTooManyRequests,
}

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

// StatusOf returns the HTTP status of an error kind: the one mapping every
// HTTP adapter of approvald uses (500 for an unknown kind).
func StatusOf(k approval.Kind) int {
	if status, ok := statusOf[k]; ok {
		return status
	}
	return http.StatusInternalServerError
}

// writeError writes err as problem+json. Internal errors are logged with
// their cause and shown to the client only as "internal error".
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		// The client went away (or the server is stopping): nobody is
		// left to read an answer, and it is not the server's failure.
		access.Logger(r.Context()).Info("request abandoned", "reason", context.Cause(r.Context()).Error())
		return
	}
	e := approval.AsError(err)
	status := StatusOf(e.Kind)
	log := access.Logger(r.Context())
	if status >= 500 {
		log.Error("request failed", "err", err, "code", e.Code)
	} else {
		log.Debug("request refused", "code", e.Code, "detail", e.Message)
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="approvald"`)
	}
	SetRetryAfter(w, e)
	p := Problem{
		Type:      problemTypeBase + e.Code,
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    e.Message,
		Code:      e.Code,
		Instance:  r.URL.Path,
		RequestID: access.RequestID(r.Context()),
		Errors:    e.Fields,
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(p); err != nil {
		log.Debug("writing problem failed", slog.Any("err", err))
	}
}

// writeJSON writes v as JSON with the given status.
// SetRetryAfter sets the Retry-After header of an answer to e, when e
// says how long to wait (rate limits, an unavailable database); every face
// answers such errors with it.
func SetRetryAfter(w http.ResponseWriter, e *approval.Error) {
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
	}
}

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
