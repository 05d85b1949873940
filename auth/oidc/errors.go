package oidc

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"approvald/approval"
)

// The messages of Verify's errors, shown to callers.
const (
	msgInvalid  = "invalid bearer token"
	msgExpired  = "bearer token has expired"
	msgNotValid = "bearer token is not valid yet"
)

// maxReasonLen bounds a reason, in bytes.
const maxReasonLen = 300

// reason is the cause of a refusal, for the operator's log. It never holds
// the token.
type reason struct{ text string }

func (r *reason) Error() string { return r.text }

// refuse returns the error of a refused token: an unauthenticated
// *approval.Error with message msg, wrapping the reason built from format
// and args, with raw (the token) and its parts removed from it.
func refuse(msg, raw, format string, args ...any) error {
	return &approval.Error{
		Kind:    approval.KindUnauthenticated,
		Code:    approval.CodeUnauthenticated,
		Message: msg,
		Err:     &reason{text: redact(fmt.Sprintf(format, args...), raw)},
	}
}

// Reason returns why Verify refused a token, for logging: more precise than
// the error's message and never containing the token. It returns "" for nil
// and err.Error() for an error that does not come from Verify.
func Reason(err error) string {
	if err == nil {
		return ""
	}
	var r *reason
	if errors.As(err, &r) {
		return r.text
	}
	return err.Error()
}

// redact removes raw and each of its dot-separated parts (at least 8 bytes
// long) from s, then clips it.
func redact(s, raw string) string {
	if raw != "" {
		s = strings.ReplaceAll(s, raw, "[token]")
		for part := range strings.SplitSeq(raw, ".") {
			if len(part) >= 8 {
				s = strings.ReplaceAll(s, part, "[token part]")
			}
		}
	}
	return clip(s)
}

// clip replaces control characters and invalid UTF-8 in s and cuts it to at
// most maxReasonLen bytes, so that text from the network is safe to log.
func clip(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len()+utf8.RuneLen(r) > maxReasonLen {
			b.WriteString("…")
			break
		}
		if r == utf8.RuneError || unicode.IsControl(r) {
			r = '?'
		}
		b.WriteRune(r)
	}
	return b.String()
}
