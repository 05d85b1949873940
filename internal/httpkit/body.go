package httpkit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"approvald/approval"
	"approvald/jsonstrict"
)

// Body says how a face reads a request body.
type Body struct {
	// Limit is the largest body accepted, in bytes.
	Limit int64
	// Optional accepts an empty body (or one of only white space): Read
	// returns nil for it.
	Optional bool
	// Untyped accepts a body sent without a Content-Type, as the legacy
	// API's clients often send theirs; any other type than JSON is still
	// refused.
	Untyped bool
	// AnyType accepts a body of any Content-Type, or none: the gateway
	// forwards the body as it is.
	AnyType bool
}

// Read returns the body of r, read whole into one slice sized by its
// Content-Length. A body over the limit is 413 request_too_large (from the
// Content-Length alone when it announces that much), one that cannot be
// read 400, an empty one 400 unless it is Optional, and one whose
// Content-Type is not JSON (application/json or a +json type) 415.
func (b Body) Read(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > b.Limit {
		return nil, b.tooLarge()
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		// ReadFrom grows the buffer when less than bytes.MinRead is free:
		// with this much room it reads a body of the announced size
		// without copying it to a larger slice.
		buf.Grow(int(r.ContentLength) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, b.Limit))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, b.tooLarge()
	case err != nil:
		// Most likely the client went away; if not, it sent a broken body.
		return nil, &approval.Error{Kind: approval.KindMalformed, Code: approval.CodeMalformed,
			Message: "could not read the request body", Err: err}
	}
	body := buf.Bytes()
	if len(bytes.TrimSpace(body)) == 0 {
		if b.Optional {
			return nil, nil
		}
		return nil, approval.Errorf(approval.KindMalformed, approval.CodeMalformed, "a JSON request body is required")
	}
	if ct := r.Header.Get("Content-Type"); !b.AnyType && !(ct == "" && b.Untyped) && !isJSON(ct) {
		return nil, approval.Errorf(approval.KindUnsupportedMedia, approval.CodeUnsupportedMedia,
			"Content-Type must be application/json, not %q", ct)
	}
	return body, nil
}

// ReadJSON reads the body of r as Read does and decodes it into dst as
// Decode does, returning it; an empty Optional body is nil and leaves dst
// as it is.
func (b Body) ReadJSON(w http.ResponseWriter, r *http.Request, dst any, data ...string) ([]byte, error) {
	body, err := b.Read(w, r)
	if err != nil || body == nil {
		return body, err
	}
	return body, Decode(body, dst, data...)
}

func (b Body) tooLarge() error {
	return approval.Errorf(approval.KindTooLarge, approval.CodeTooLarge, "the request body is larger than %d bytes", b.Limit)
}

// isJSON reports whether the Content-Type ct is application/json or
// another +json type, parameters allowed.
func isJSON(ct string) bool {
	if ct == "application/json" {
		return true // most bodies: no need to parse
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// ReadForm parses the form of a POST body of at most limit bytes into
// r.Form and r.PostForm (see http.Request.ParseMultipartForm): over the
// limit is 413 request_too_large, a form that cannot be parsed 400.
func ReadForm(w http.ResponseWriter, r *http.Request, limit int64) error {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	// ParseMultipartForm parses other forms too, but then returns
	// ErrNotMultipart rather than what was wrong with them.
	err := r.ParseForm()
	if err == nil {
		err = r.ParseMultipartForm(limit)
	}
	var mbe *http.MaxBytesError
	switch {
	case err == nil, errors.Is(err, http.ErrNotMultipart):
		return nil
	case errors.As(err, &mbe):
		return Body{Limit: limit}.tooLarge()
	}
	return &approval.Error{Kind: approval.KindMalformed, Code: approval.CodeMalformed,
		Message: "the form could not be read", Err: err}
}

// CheckStrict refuses, as 400 malformed_request naming the place, a body
// that JSON readers could read in different ways or that nests too deep
// (see jsonstrict and o). The jsonstrict.Error is the error's cause.
func CheckStrict(body []byte, o jsonstrict.Options) error {
	if err := jsonstrict.Check(body, o); err != nil {
		return &approval.Error{Kind: approval.KindMalformed, Code: approval.CodeMalformed,
			Message: "the request body " + err.Error(), Err: err}
	}
	return nil
}

// Decode decodes the one JSON value of body into dst, refusing unknown
// fields. body must first pass CheckStrict, as one value: invalid UTF-8, a key given
// twice (outside data, in any letter case, since encoding/json would put
// both in one field) or nesting deeper than approval.MaxBodyDepth
// (approval.MaxPayloadDepth within the top-level members data names, such
// as "payload") is 400 malformed_request, as is a body that is not JSON.
// A value of the wrong type or an unknown field is 422 validation_failed
// naming the field.
func Decode(body []byte, dst any, data ...string) error {
	err := CheckStrict(body, jsonstrict.Options{MaxDepth: approval.MaxBodyDepth, Data: data, DataMaxDepth: approval.MaxPayloadDepth})
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err) // one value: CheckStrict refuses more
	}
	return nil
}

func decodeError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	var v approval.Validation
	switch {
	case errors.As(err, &se):
		return approval.Errorf(approval.KindMalformed, approval.CodeMalformed, "the request body is not valid JSON: %s (at byte %d)", se.Error(), se.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return approval.Errorf(approval.KindMalformed, approval.CodeMalformed, "the request body is not valid JSON: it ends too early")
	case errors.As(err, &te):
		if te.Field == "" {
			return approval.Errorf(approval.KindInvalid, approval.CodeValidation, "the request body must be a JSON object")
		}
		v.Add(te.Field, "must be %s, not %s", jsonKind(te.Type.Kind().String()), te.Value)
		return v.Err()
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		v.Add(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "is not a known field")
		return v.Err()
	}
	return approval.Errorf(approval.KindMalformed, approval.CodeMalformed, "the request body could not be decoded: %s", err)
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "bool":
		return "a boolean"
	case "int", "int64", "int32", "float64":
		return "a number"
	}
	return fmt.Sprintf("a %s", goKind)
}
