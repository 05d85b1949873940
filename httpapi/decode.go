package httpapi

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

// MaxBodyBytes is the largest request body accepted; larger ones get 413.
const MaxBodyBytes = 1 << 20

// readBody returns the request body, enforcing the JSON content type and the
// size limit. An empty body is allowed only when optional is true.
func readBody(r *http.Request, optional bool) ([]byte, error) {
	if r.ContentLength > MaxBodyBytes {
		return nil, tooLarge()
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBodyBytes))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, tooLarge()
	case err != nil:
		return nil, approval.Errorf(approval.KindMalformed, approval.CodeMalformed, "could not read the request body")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if optional {
			return nil, nil
		}
		return nil, approval.Errorf(approval.KindMalformed, approval.CodeMalformed, "a JSON request body is required")
	}
	ct := r.Header.Get("Content-Type")
	mt, _, perr := mime.ParseMediaType(ct)
	if ct == "" || perr != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return nil, approval.Errorf(approval.KindUnsupportedMedia, approval.CodeUnsupportedMedia,
			"Content-Type must be application/json, not %q", ct)
	}
	return body, nil
}

func tooLarge() error {
	return approval.Errorf(approval.KindTooLarge, approval.CodeTooLarge, "the request body is larger than %d bytes", MaxBodyBytes)
}

// decodeStrict decodes one JSON value from body into dst, refusing unknown
// fields and trailing data. data names the top-level members whose values
// are data, such as "payload" (see jsonstrict.Options). A body that is not
// strict JSON (see checkStrict) or not JSON at all is 400; values of the
// wrong type and unknown fields are 422 with the field named.
func decodeStrict(body []byte, dst any, data ...string) error {
	if err := checkStrict(body, data...); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if dec.More() {
		return approval.Errorf(approval.KindMalformed, approval.CodeMalformed, "the request body holds more than one JSON value")
	}
	if _, err := dec.Token(); err != io.EOF {
		return approval.Errorf(approval.KindMalformed, approval.CodeMalformed, "unexpected data after the JSON value")
	}
	return nil
}

// checkStrict refuses, as 400 malformed_request naming the place, a body
// that JSON readers could read in different ways: invalid UTF-8 (an
// unpaired surrogate escape included), a key given twice (outside data, in
// any letter case: encoding/json would put both in one field), or nesting
// deeper than approval.MaxBodyDepth (approval.MaxPayloadDepth within data).
func checkStrict(body []byte, data ...string) error {
	err := jsonstrict.Check(body, jsonstrict.Options{
		MaxDepth: approval.MaxBodyDepth, Data: data, DataMaxDepth: approval.MaxPayloadDepth,
	})
	if err != nil {
		return approval.Errorf(approval.KindMalformed, approval.CodeMalformed, "the request body %s", err)
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
		field := te.Field
		if field == "" {
			return approval.Errorf(approval.KindInvalid, approval.CodeValidation, "the request body must be a JSON object")
		}
		v.Add(field, "must be %s, not %s", jsonKind(te.Type.Kind().String()), te.Value)
		return v.Err()
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		v.Add(name, "is not a known field")
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
