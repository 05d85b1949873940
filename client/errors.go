package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The stable problem codes of the API. A code never changes meaning, so
// programs may switch on [Error].Code.
const (
	CodeMalformedRequest     = "malformed_request"
	CodeUnauthenticated      = "unauthenticated"
	CodeMissingScope         = "missing_scope"
	CodeSelfReview           = "self_review"
	CodeNotEligible          = "not_eligible"
	CodeNotOwner             = "not_owner"
	CodeNotFound             = "not_found"
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeInvalidTransition    = "invalid_transition"
	CodeAlreadyReviewed      = "already_reviewed"
	CodeStageNotOpen         = "stage_not_open"
	CodeStaleVersion         = "stale_version"
	CodeConflict             = "conflict"
	CodeVersionMismatch      = "version_mismatch"
	CodeRequestTooLarge      = "request_too_large"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeValidationFailed     = "validation_failed"
	CodeIdempotencyKeyReused = "idempotency_key_reused"
	CodeRateLimited          = "rate_limited"
	CodeInternal             = "internal"
	CodeUnavailable          = "unavailable"
)

// Error is an error answer of the API: an RFC 9457 problem with approvald's
// stable Code. Answers that are not problems (a proxy's HTML error page)
// become an Error too, with an empty Code and the start of the body as
// Detail. Find it with errors.As:
//
//	var apiErr *client.Error
//	if errors.As(err, &apiErr) && apiErr.Code == client.CodeInvalidTransition { … }
type Error struct {
	// Status is the HTTP status code.
	Status int `json:"status"`
	// Code is the stable machine code, such as "invalid_transition".
	Code   string `json:"code"`
	Type   string `json:"type"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
	// Instance is the path of the request that failed.
	Instance string `json:"instance,omitempty"`
	// RequestID is the server's id of the request, for its logs.
	RequestID string `json:"request_id,omitempty"`
	// Errors names each invalid field of a validation failure.
	Errors []FieldError `json:"errors,omitempty"`
	// RetryAfter is the wait the server asked for (429, 503), or 0.
	RetryAfter time.Duration `json:"-"`
	// Method and Path are the request's.
	Method string `json:"-"`
	Path   string `json:"-"`
}

// FieldError names one invalid field of a request.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error returns the status, the code and the detail, and the field errors.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d", e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	} else if t := http.StatusText(e.Status); t != "" {
		b.WriteString(" " + t)
	}
	if e.Detail != "" {
		b.WriteString(": " + e.Detail)
	}
	for _, f := range e.Errors {
		fmt.Fprintf(&b, "; %s: %s", f.Field, f.Message)
	}
	return b.String()
}

// parseError builds the Error of a non-2xx answer from its body.
func parseError(method, path string, resp *http.Response, body []byte) *Error {
	e := &Error{Status: resp.StatusCode, Method: method, Path: path, RetryAfter: retryAfter(resp.Header, time.Now())}
	ct := resp.Header.Get("Content-Type")
	if strings.Contains(ct, "json") && json.Unmarshal(body, e) == nil && e.Code != "" {
		e.Status = resp.StatusCode // the status line wins over the body
		return e
	}
	*e = Error{Status: resp.StatusCode, Method: method, Path: path, RetryAfter: e.RetryAfter,
		Title: http.StatusText(resp.StatusCode), RequestID: resp.Header.Get("X-Request-Id")}
	detail := strings.TrimSpace(string(body))
	if len(detail) > 200 {
		detail = detail[:200] + "…"
	}
	e.Detail = detail
	return e
}

// AsError returns the *Error in err's chain, or nil.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// HasCode reports whether err is an API error with the given problem code.
func HasCode(err error, code string) bool {
	e := AsError(err)
	return e != nil && e.Code == code
}

// IsNotFound reports whether err is a 404 answer: no such request, rule,
// policy or key.
func IsNotFound(err error) bool { return hasStatus(err, http.StatusNotFound) }

// IsConflict reports whether err is a 409 answer (an invalid transition, an
// existing name, a reviewer who already reviewed, …) or a 412 (If-Match
// named another version).
func IsConflict(err error) bool {
	return hasStatus(err, http.StatusConflict) || hasStatus(err, http.StatusPreconditionFailed)
}

// IsUnauthorized reports whether err is a 401 (no or a bad token) or a 403
// (the token may not do this) answer.
func IsUnauthorized(err error) bool {
	return hasStatus(err, http.StatusUnauthorized) || hasStatus(err, http.StatusForbidden)
}

func hasStatus(err error, status int) bool {
	e := AsError(err)
	return e != nil && e.Status == status
}
