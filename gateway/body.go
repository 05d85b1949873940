package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"approvald/approval"
	"approvald/internal/httpkit"
	"approvald/jsonstrict"
)

// MaxBodyBytes bounds a request body and an upstream's response body.
const MaxBodyBytes = 64 << 20

// Details of invalid bodies. detailInvalid is the original's, misspelling
// included: clients may match on it, so the more precise details start
// with it too.
const (
	detailInvalid  = "Invalid input provided. Mising required keys or invalid values in the body payload."
	detailTooLarge = "The request body is larger than the limit of 64 MiB (67108864 bytes)."
)

// Run names one run of a project: the body's project_name and
// project_start_time. Package and publish lock it; an approval request
// belongs to it.
type Run struct {
	ProjectName string // project_name
	StartTime   string // project_start_time: YYYYMMDD_HHMMSS from the CLI, ISO-8601 from the karectl fork; kept as sent
}

// String returns "project <name> run <start time>", as details show it.
func (r Run) String() string { return "project " + r.ProjectName + " run " + r.StartTime }

// requestBody is how a call's body is read: at most MaxBodyBytes of
// anything (checkBody decides what is acceptable), forwarded as it is.
var requestBody = httpkit.Body{Limit: MaxBodyBytes, Optional: true, AnyType: true}

// strict is how strict the gateway is with a body (see jsonstrict): the
// whole body is data for the upstreams, so keys differing in case are
// different keys below the top level, and it may nest as deep as a
// payload (it becomes one, one level down, when an approval step opens a
// request; see requestPayload).
var strict = jsonstrict.Options{
	MaxDepth: approval.MaxPayloadDepth, Data: []string{jsonstrict.AnyMember}, DataMaxDepth: approval.MaxPayloadDepth,
}

// checkBody returns the run named by body, which must be a JSON object
// with the strings project_name and project_start_time, single-line text
// without control or invisible characters (they name the approval request
// people review), and, when they are present, the objects source and
// destination. The body must be strict JSON (see jsonstrict): in UTF-8, no
// key given twice (the upstreams' decoder would take the last, a person
// reading the body might see the first), nested at most
// approval.MaxPayloadDepth levels. Otherwise it returns an error whose
// message is the client's detail. It does not change body.
func checkBody(body []byte) (Run, error) {
	var se *jsonstrict.Error
	switch err := httpkit.CheckStrict(body, strict); {
	case errors.As(err, &se) && se.Reason != jsonstrict.Syntax:
		// Valid JSON, but ambiguous or too deep: say which and where.
		return Run{}, fmt.Errorf("%s The body %s.", detailInvalid, se)
	case err != nil:
		// Not JSON: the original's detail, exactly, as the contract says.
		return Run{}, errors.New(detailInvalid)
	}
	var name, start, source, destination []byte
	isObject := members(body, func(key, value []byte) {
		switch {
		case keyIs(key, "project_name"):
			name = value
		case keyIs(key, "project_start_time"):
			start = value
		case keyIs(key, "source"):
			source = value
		case keyIs(key, "destination"):
			destination = value
		}
	})
	if !isObject {
		return Run{}, errors.New(detailInvalid)
	}
	var run Run
	for _, k := range []struct {
		name  string
		value []byte
		dst   *string
	}{{"project_name", name, &run.ProjectName}, {"project_start_time", start, &run.StartTime}} {
		if k.value == nil {
			return Run{}, fmt.Errorf("%s Missing required key: '%s'.", detailInvalid, k.name)
		}
		s, ok := jsonString(k.value)
		if !ok {
			return Run{}, fmt.Errorf("%s '%s' must be a string.", detailInvalid, k.name)
		}
		*k.dst = s
		var v approval.Validation
		approval.CheckLine(&v, k.name, s, approval.MaxSubjectLen, false)
		if e := approval.AsError(v.Err()); e != nil {
			return Run{}, fmt.Errorf("%s '%s' %s.", detailInvalid, k.name, e.Fields[0].Message)
		}
	}
	if source != nil && source[0] != '{' {
		return Run{}, fmt.Errorf("%s 'source' must be an object.", detailInvalid)
	}
	if destination != nil && destination[0] != '{' {
		return Run{}, fmt.Errorf("%s 'destination' must be an object.", detailInvalid)
	}
	return run, nil
}

// The helpers below walk JSON that json.Valid or jsonstrict.Check has
// accepted, so they need not check its grammar; they only find where each value ends. They
// allocate nothing, whatever the size of the values they skip.

// members calls fn with the key (quotes included, escapes kept) and the
// value of each member of the object data, in order, and reports whether
// data is an object at all. data must be valid JSON.
func members(data []byte, fn func(key, value []byte)) bool {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	i = skipSpace(data, i+1)
	if data[i] == '}' {
		return true
	}
	for {
		start := i
		i = skipString(data, i)
		key := data[start:i]
		i = skipSpace(data, i) + 1 // the colon
		i = skipSpace(data, i)
		start = i
		i = skipValue(data, i)
		fn(key, data[start:i])
		i = skipSpace(data, i)
		if data[i] != ',' {
			return true // the closing brace
		}
		i = skipSpace(data, i+1)
	}
}

// member returns the value of the last member of the object data named
// name (as a decoder would keep the last of duplicate keys), and whether
// there is one. data must be valid JSON.
func member(data []byte, name string) (value []byte, ok bool) {
	members(data, func(k, v []byte) {
		if keyIs(k, name) {
			value, ok = v, true
		}
	})
	return value, ok
}

// keyIs reports whether the quoted key is name, unescaping it if needed.
func keyIs(key []byte, name string) bool {
	if bytes.IndexByte(key, '\\') < 0 {
		return string(key[1:len(key)-1]) == name
	}
	s, ok := jsonString(key)
	return ok && s == name
}

// jsonString returns the string the JSON value v denotes, and false when v
// is not a string.
func jsonString(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' {
		return "", false
	}
	if bytes.IndexByte(v, '\\') < 0 {
		return string(v[1 : len(v)-1]), true
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", false
	}
	return s, true
}

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index after the string that starts at data[i].
func skipString(data []byte, i int) int {
	i++
	for {
		j := bytes.IndexAny(data[i:], `"\`)
		if j < 0 {
			return len(data) // not valid JSON; cannot happen
		}
		i += j
		if data[i] == '"' {
			return i + 1
		}
		i += 2 // a backslash and the character it escapes
	}
}

// skipValue returns the index after the value that starts at data[i].
func skipValue(data []byte, i int) int {
	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		depth := 0
		for i < len(data) {
			switch data[i] {
			case '"':
				i = skipString(data, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	default: // a number, true, false or null
		for i < len(data) {
			switch data[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return i
	}
}

// trimSpace returns data without JSON whitespace around it.
func trimSpace(data []byte) []byte {
	return bytes.Trim(data, " \t\n\r")
}
