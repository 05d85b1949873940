package approval

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kind classifies an error; each adapter maps a Kind to its own wire status
// (the HTTP API to a status code) in exactly one place.
type Kind uint8

// The kinds of error.
const (
	KindNone             Kind = iota // no error: the kind of nil
	KindInternal                     // a bug or a failed dependency; details are logged, never shown
	KindMalformed                    // the input could not be parsed
	KindInvalid                      // the input parsed but has invalid values
	KindUnauthenticated              // no or bad credentials
	KindForbidden                    // the caller may not do this
	KindNotFound                     // no such thing
	KindConflict                     // not allowed in the current state
	KindPrecondition                 // a conditional write saw another version
	KindTooLarge                     // the input is over a size limit
	KindUnsupportedMedia             // the input has the wrong content type
	KindUnavailable                  // a dependency is down; retry later
	KindMethodNotAllowed             // the route exists, the method does not
	KindRateLimited                  // too many requests; retry after RetryAfter
)

// Stable error codes. Clients may switch on them; they never change meaning.
const (
	CodeInternal            = "internal"
	CodeMalformed           = "malformed_request"
	CodeValidation          = "validation_failed"
	CodeUnauthenticated     = "unauthenticated"
	CodeMissingScope        = "missing_scope"
	CodeSelfReview          = "self_review"
	CodeNotEligible         = "not_eligible"
	CodeNotOwner            = "not_owner"
	CodeNotFound            = "not_found"
	CodeInvalidTransition   = "invalid_transition"
	CodeAlreadyReviewed     = "already_reviewed"
	CodeVersionMismatch     = "version_mismatch"
	CodeTooLarge            = "request_too_large"
	CodeUnsupportedMedia    = "unsupported_media_type"
	CodeIdempotencyMismatch = "idempotency_key_reused"
	CodeConflict            = "conflict"
	CodeUnavailable         = "unavailable"
	CodeMethodNotAllowed    = "method_not_allowed"
	CodeStageNotOpen        = "stage_not_open"
	CodeStaleVersion        = "stale_version"
	CodeRateLimited         = "rate_limited"
	// CodeNotDelegated: a review on behalf of someone who has not
	// delegated to the reviewer (or whose delegation ended or was revoked).
	CodeNotDelegated = "not_delegated"
)

// FieldError names one invalid input field and what is wrong with it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is the one error type of approvald. Message is safe to show to the
// caller; Err, the cause, is for the operator's log only.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	Fields  []FieldError
	Err     error
	// RetryAfter, for KindRateLimited and KindUnavailable, is how long the
	// caller should wait before trying again (0: unknown).
	RetryAfter time.Duration
}

// Error returns the message, followed by the cause when there is one.
func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of the given kind and code with a formatted message.
func Errorf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Internal wraps err as an internal error whose client message reveals nothing.
func Internal(err error) *Error {
	return &Error{Kind: KindInternal, Code: CodeInternal, Message: "internal error", Err: err}
}

// NotFound returns the not-found error for the thing described by what.
func NotFound(what string) *Error {
	return Errorf(KindNotFound, CodeNotFound, "%s not found", what)
}

// AsError returns err as an *Error; an error that is not one becomes an
// internal error wrapping it. It returns nil for nil.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Internal(err)
}

// KindOf returns the kind of err: KindNone for nil, KindInternal for
// errors that are not an *Error.
func KindOf(err error) Kind {
	if err == nil {
		return KindNone
	}
	return AsError(err).Kind
}

// CodeOf returns the code of err (CodeInternal for foreign errors), or "" for nil.
func CodeOf(err error) string {
	if err == nil {
		return ""
	}
	return AsError(err).Code
}

// Validation collects field errors; Err returns them as one KindInvalid error.
type Validation struct{ fields []FieldError }

// Add records that field is invalid.
func (v *Validation) Add(field, format string, args ...any) {
	v.fields = append(v.fields, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// ErrEvery is Err for a configuration: its message names every invalid field,
// after "invalid " and what.
func (v *Validation) ErrEvery(what string) error {
	if len(v.fields) == 0 {
		return nil
	}
	msgs := make([]string, len(v.fields))
	for i, f := range v.fields {
		msgs[i] = f.Field + ": " + f.Message
	}
	return &Error{Kind: KindInvalid, Code: CodeValidation, Message: "invalid " + what + ": " + strings.Join(msgs, "; "), Fields: v.fields}
}

// Err returns nil when no field was invalid, otherwise a KindInvalid *Error
// listing every field.
func (v *Validation) Err() error {
	if len(v.fields) == 0 {
		return nil
	}
	msg := v.fields[0].Field + ": " + v.fields[0].Message
	if len(v.fields) > 1 {
		msg = fmt.Sprintf("%s (and %d more)", msg, len(v.fields)-1)
	}
	return &Error{Kind: KindInvalid, Code: CodeValidation, Message: "invalid request: " + msg, Fields: v.fields}
}
