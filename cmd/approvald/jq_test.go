package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// This file holds the part of jq's language that the README's examples
// use, so that the test running them (readme_test.go) shows what jq shows
// for them: paths (.a.b), iteration (.items[]), string and array slices
// ([:16]), object construction ({a, b: .c | .d}), array construction,
// parentheses, pipes, commas, keys and length; -c and -r. Objects keep the
// order of their keys, as jq does. Anything else is an error, so an
// example that needs more of jq fails the test rather than showing
// something jq would not.

// jqObject is a JSON object that keeps the order of its keys.
type jqObject struct {
	keys []string
	vals map[string]any
}

// jqDecode reads one JSON value: objects as *jqObject, arrays as []any,
// numbers as json.Number (their text kept), strings, bools and nil.
func jqDecode(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := jqDecodeValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("jq: more than one JSON value in the input")
	}
	return v, nil
}

func jqDecodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		o := &jqObject{vals: map[string]any{}}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := jqDecodeValue(dec)
			if err != nil {
				return nil, err
			}
			key := k.(string)
			if _, dup := o.vals[key]; !dup {
				o.keys = append(o.keys, key)
			}
			o.vals[key] = v
		}
		_, err := dec.Token()
		return o, err
	case json.Delim('['):
		a := []any{}
		for dec.More() {
			v, err := jqDecodeValue(dec)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err := dec.Token()
		return a, err
	}
	return tok, nil
}

// jqEncode writes v as jq does: pretty with two spaces, or compact (-c).
func jqEncode(v any, compact bool) string {
	var b bytes.Buffer
	jqWriteCompact(&b, v)
	if compact {
		return b.String()
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b.Bytes(), "", "  "); err != nil {
		panic(err) // jqWriteCompact writes valid JSON
	}
	return out.String()
}

func jqWriteCompact(b *bytes.Buffer, v any) {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case json.Number:
		b.WriteString(v.String())
	case string:
		enc := json.NewEncoder(b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(v)
		b.Truncate(b.Len() - 1) // Encode's newline
	case []any:
		b.WriteByte('[')
		for i, x := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			jqWriteCompact(b, x)
		}
		b.WriteByte(']')
	case *jqObject:
		b.WriteByte('{')
		for i, k := range v.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			jqWriteCompact(b, k)
			b.WriteByte(':')
			jqWriteCompact(b, v.vals[k])
		}
		b.WriteByte('}')
	default:
		panic(fmt.Sprintf("jq: a %T in a JSON value", v))
	}
}

// jqRun runs `jq args` on input and returns what jq prints. args are the
// options (-c, -r) and the filter, single-quoted or not, as the README
// writes them after "jq ".
func jqRun(args string, input []byte) (string, error) {
	compact, raw := false, false
	rest := strings.TrimSpace(args)
	for {
		if r, ok := strings.CutPrefix(rest, "-c "); ok {
			compact, rest = true, strings.TrimSpace(r)
		} else if r, ok := strings.CutPrefix(rest, "-r "); ok {
			raw, rest = true, strings.TrimSpace(r)
		} else {
			break
		}
	}
	if len(rest) >= 2 && rest[0] == '\'' && rest[len(rest)-1] == '\'' {
		rest = rest[1 : len(rest)-1]
	}
	if strings.ContainsAny(rest, "'") {
		return "", fmt.Errorf("jq: cannot read the filter %q", args)
	}
	p := &jqParser{src: rest}
	f, err := p.parse()
	if err != nil {
		return "", err
	}
	in, err := jqDecode(input)
	if err != nil {
		return "", fmt.Errorf("jq: the input is not JSON: %w", err)
	}
	outs, err := f(in)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, v := range outs {
		if s, ok := v.(string); ok && raw {
			b.WriteString(s)
		} else {
			b.WriteString(jqEncode(v, compact))
		}
		b.WriteByte('\n')
	}
	return b.String(), nil
}

// jqFilter maps one input to the stream of its outputs.
type jqFilter func(any) ([]any, error)

// jqParser parses the subset of jq's grammar described at the top of
// this file, by recursive descent:
//
//	pipe    = comma { "|" comma }
//	comma   = postfix { "," postfix }
//	postfix = primary { "." name | "[" "]" | "[" [int] ":" [int] "]" | "[" int "]" }
//	primary = "." [name] | "(" pipe ")" | "[" pipe "]" | "{" entry { "," entry } "}" | "keys" | "length"
//	entry   = name [ ":" postfix { "|" postfix } ]
type jqParser struct {
	src string
	pos int
}

func (p *jqParser) parse() (jqFilter, error) {
	f, err := p.pipe()
	if err != nil {
		return nil, err
	}
	if p.skip(); p.pos < len(p.src) {
		return nil, p.errorf("unexpected %q", p.src[p.pos:])
	}
	return f, nil
}

func (p *jqParser) errorf(format string, args ...any) error {
	return fmt.Errorf("jq (the README's subset): %s in %q at %d", fmt.Sprintf(format, args...), p.src, p.pos)
}

func (p *jqParser) skip() {
	for p.pos < len(p.src) && p.src[p.pos] == ' ' {
		p.pos++
	}
}

// peek reports whether the next token starts with s, without consuming it.
func (p *jqParser) peek(s string) bool {
	p.skip()
	return strings.HasPrefix(p.src[p.pos:], s)
}

func (p *jqParser) eat(s string) bool {
	if p.peek(s) {
		p.pos += len(s)
		return true
	}
	return false
}

func isNameByte(c byte, first bool) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || !first && '0' <= c && c <= '9'
}

// name reads an identifier right at the current position ("" if none).
func (p *jqParser) name() string {
	start := p.pos
	for p.pos < len(p.src) && isNameByte(p.src[p.pos], p.pos == start) {
		p.pos++
	}
	return p.src[start:p.pos]
}

// integer reads an optional integer at the current position.
func (p *jqParser) integer() (int, bool) {
	p.skip()
	start := p.pos
	for p.pos < len(p.src) && (p.src[p.pos] == '-' && p.pos == start || '0' <= p.src[p.pos] && p.src[p.pos] <= '9') {
		p.pos++
	}
	n, err := strconv.Atoi(p.src[start:p.pos])
	return n, err == nil
}

func (p *jqParser) pipe() (jqFilter, error) {
	left, err := p.comma()
	if err != nil {
		return nil, err
	}
	for p.eat("|") {
		right, err := p.comma()
		if err != nil {
			return nil, err
		}
		left = jqPipe(left, right)
	}
	return left, nil
}

func jqPipe(left, right jqFilter) jqFilter {
	return func(v any) ([]any, error) {
		mid, err := left(v)
		if err != nil {
			return nil, err
		}
		var out []any
		for _, m := range mid {
			r, err := right(m)
			if err != nil {
				return nil, err
			}
			out = append(out, r...)
		}
		return out, nil
	}
}

func (p *jqParser) comma() (jqFilter, error) {
	first, err := p.postfix()
	if err != nil {
		return nil, err
	}
	fs := []jqFilter{first}
	for p.eat(",") {
		f, err := p.postfix()
		if err != nil {
			return nil, err
		}
		fs = append(fs, f)
	}
	if len(fs) == 1 {
		return first, nil
	}
	return func(v any) ([]any, error) {
		var out []any
		for _, f := range fs {
			r, err := f(v)
			if err != nil {
				return nil, err
			}
			out = append(out, r...)
		}
		return out, nil
	}, nil
}

func (p *jqParser) postfix() (jqFilter, error) {
	f, err := p.primary()
	if err != nil {
		return nil, err
	}
	for {
		switch {
		case p.pos < len(p.src) && p.src[p.pos] == '.' && p.pos+1 < len(p.src) && isNameByte(p.src[p.pos+1], true):
			p.pos++
			f = jqPipe(f, jqField(p.name()))
		case p.pos < len(p.src) && p.src[p.pos] == '[':
			p.pos++
			s, err := p.suffix()
			if err != nil {
				return nil, err
			}
			f = jqPipe(f, s)
		default:
			return f, nil
		}
	}
}

// suffix parses what follows "[" after a term: "]", a slice or an index.
func (p *jqParser) suffix() (jqFilter, error) {
	if p.eat("]") {
		return jqIterate, nil
	}
	from, hasFrom := p.integer()
	if p.eat(":") {
		to, hasTo := p.integer()
		if !p.eat("]") {
			return nil, p.errorf("a slice without its ]")
		}
		return jqSlice(from, hasFrom, to, hasTo), nil
	}
	if !hasFrom || !p.eat("]") {
		return nil, p.errorf("an index that is not an integer")
	}
	return func(v any) ([]any, error) {
		a, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("jq: cannot index %s with a number", jqType(v))
		}
		if from < 0 {
			from += len(a)
		}
		if from < 0 || from >= len(a) {
			return []any{nil}, nil
		}
		return []any{a[from]}, nil
	}, nil
}

func (p *jqParser) primary() (jqFilter, error) {
	p.skip()
	switch {
	case p.eat("("):
		f, err := p.pipe()
		if err != nil {
			return nil, err
		}
		if !p.eat(")") {
			return nil, p.errorf("a ( without its )")
		}
		return f, nil
	case p.eat("["):
		f, err := p.pipe()
		if err != nil {
			return nil, err
		}
		if !p.eat("]") {
			return nil, p.errorf("a [ without its ]")
		}
		return func(v any) ([]any, error) {
			items, err := f(v)
			if items == nil {
				items = []any{}
			}
			return []any{items}, err
		}, nil
	case p.eat("{"):
		return p.object()
	case p.eat("."):
		if name := p.name(); name != "" {
			return jqField(name), nil
		}
		return func(v any) ([]any, error) { return []any{v}, nil }, nil
	case p.eat("@base64d"):
		return jqBase64d, nil
	}
	switch name := p.name(); name {
	case "keys":
		return jqKeys, nil
	case "length":
		return jqLength, nil
	case "fromjson":
		return jqFromJSON, nil
	case "":
		return nil, p.errorf("expected a term")
	default:
		return nil, p.errorf("%s is not in the README's subset of jq", name)
	}
}

func (p *jqParser) object() (jqFilter, error) {
	type entry struct {
		key string
		val jqFilter
	}
	var entries []entry
	for {
		p.skip()
		key := p.name()
		if key == "" {
			return nil, p.errorf("an object key that is not a name")
		}
		e := entry{key: key, val: jqField(key)}
		if p.eat(":") {
			f, err := p.postfix()
			if err != nil {
				return nil, err
			}
			for p.eat("|") {
				g, err := p.postfix()
				if err != nil {
					return nil, err
				}
				f = jqPipe(f, g)
			}
			e.val = f
		}
		entries = append(entries, e)
		if p.eat("}") {
			break
		}
		if !p.eat(",") {
			return nil, p.errorf("expected , or } in an object")
		}
	}
	return func(v any) ([]any, error) {
		o := &jqObject{vals: map[string]any{}}
		for _, e := range entries {
			r, err := e.val(v)
			if err != nil {
				return nil, err
			}
			if len(r) != 1 {
				return nil, fmt.Errorf("jq: the value of %s gives %d results; the README's subset takes one", e.key, len(r))
			}
			if !slices.Contains(o.keys, e.key) {
				o.keys = append(o.keys, e.key)
			}
			o.vals[e.key] = r[0]
		}
		return []any{o}, nil
	}, nil
}

func jqField(name string) jqFilter {
	return func(v any) ([]any, error) {
		switch v := v.(type) {
		case nil:
			return []any{nil}, nil
		case *jqObject:
			return []any{v.vals[name]}, nil
		}
		return nil, fmt.Errorf("jq: cannot index %s with %q", jqType(v), name)
	}
}

func jqIterate(v any) ([]any, error) {
	switch v := v.(type) {
	case []any:
		return v, nil
	case *jqObject:
		out := make([]any, len(v.keys))
		for i, k := range v.keys {
			out[i] = v.vals[k]
		}
		return out, nil
	}
	return nil, fmt.Errorf("jq: cannot iterate over %s", jqType(v))
}

func jqSlice(from int, hasFrom bool, to int, hasTo bool) jqFilter {
	bounds := func(n int) (int, int) {
		f, t := 0, n
		if hasFrom {
			f = from
		}
		if hasTo {
			t = to
		}
		if f < 0 {
			f += n
		}
		if t < 0 {
			t += n
		}
		f, t = min(max(f, 0), n), min(max(t, 0), n)
		return f, max(f, t)
	}
	return func(v any) ([]any, error) {
		switch v := v.(type) {
		case nil:
			return []any{nil}, nil
		case string: // by code points, as jq
			runes := []rune(v)
			f, t := bounds(len(runes))
			return []any{string(runes[f:t])}, nil
		case []any:
			f, t := bounds(len(v))
			return []any{slices.Clone(v[f:t])}, nil
		}
		return nil, fmt.Errorf("jq: cannot slice %s", jqType(v))
	}
}

func jqKeys(v any) ([]any, error) {
	switch v := v.(type) {
	case *jqObject:
		keys := slices.Clone(v.keys)
		slices.Sort(keys) // by code point, as jq: UTF-8 sorts so
		out := make([]any, len(keys))
		for i, k := range keys {
			out[i] = k
		}
		return []any{out}, nil
	case []any:
		out := make([]any, len(v))
		for i := range v {
			out[i] = json.Number(strconv.Itoa(i))
		}
		return []any{out}, nil
	}
	return nil, fmt.Errorf("jq: %s has no keys", jqType(v))
}

// jqBase64d decodes a string of base64 (standard, padded or not) as jq's
// @base64d does.
func jqBase64d(v any) ([]any, error) {
	str, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("jq: %s cannot be base64-decoded", jqType(v))
	}
	b, err := base64.StdEncoding.DecodeString(str)
	if err != nil {
		if b, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(str, "=")); err != nil {
			return nil, fmt.Errorf("jq: %q is not valid base64 data", str)
		}
	}
	return []any{string(b)}, nil
}

// jqFromJSON parses a string of JSON, as jq's fromjson does.
func jqFromJSON(v any) ([]any, error) {
	str, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("jq: %s cannot be parsed as JSON", jqType(v))
	}
	out, err := jqDecode([]byte(str))
	if err != nil {
		return nil, fmt.Errorf("jq: %v (while parsing %q)", err, str)
	}
	return []any{out}, nil
}

func jqLength(v any) ([]any, error) {
	n := 0
	switch v := v.(type) {
	case nil:
	case string:
		n = utf8.RuneCountInString(v)
	case []any:
		n = len(v)
	case *jqObject:
		n = len(v.keys)
	default:
		return nil, fmt.Errorf("jq: %s has no length", jqType(v))
	}
	return []any{json.Number(strconv.Itoa(n))}, nil
}

func jqType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	}
	return "an object"
}

// TestJQ_SubsetPrintsWhatJqPrints: the README's subset of jq prints what
// jq prints for the same filter and input, key order included (and
// readme_test.go compares the two on every example where jq is installed).
func TestJQ_SubsetPrintsWhatJqPrints(t *testing.T) {
	t.Parallel()
	const in = `{"b":1,"a":{"x":"abcdef","y":[]},"items":[{"k":"one","n":1.5},{"k":"two","n":2}],"s":"<é>"}`
	for _, tc := range []struct{ args, want string }{
		{".", "{\n  \"b\": 1,\n  \"a\": {\n    \"x\": \"abcdef\",\n    \"y\": []\n  },\n  \"items\": [\n    {\n      \"k\": \"one\",\n      \"n\": 1.5\n    },\n    {\n      \"k\": \"two\",\n      \"n\": 2\n    }\n  ],\n  \"s\": \"<é>\"\n}\n"},
		{"-c .", in + "\n"},
		{"-r .s", "<é>\n"},
		{".s", "\"<é>\"\n"},
		{"-c '{s, b, x: .a.x[:3]}'", `{"s":"<é>","b":1,"x":"abc"}` + "\n"},
		{"-c '[.items[] | {k}]'", `[{"k":"one"},{"k":"two"}]` + "\n"},
		{"-c '.b, (.items[] | .k)'", "1\n\"one\"\n\"two\"\n"},
		{"-c '(.|keys), (.a.y|length), .items[1].n, .missing'", `["a","b","items","s"]` + "\n0\n2\nnull\n"},
		{"-c '{a: .a | {y}}'", `{"a":{"y":[]}}` + "\n"},
	} {
		got, err := jqRun(tc.args, []byte(in))
		if err != nil || got != tc.want {
			t.Errorf("jq %s: %q, %v; want %q", tc.args, got, err, tc.want)
		}
		if real, ok := realJq(t, tc.args, []byte(in)); ok && real != tc.want {
			t.Errorf("jq %s: the installed jq prints %q; the test wants %q", tc.args, real, tc.want)
		}
	}
	// A receipt's payload: base64 of JSON.
	const enc = `{"e":"eyJ6IjpbMSwiw6kiXX0="}`
	if got, err := jqRun("-c '.e | @base64d | fromjson | {z}'", []byte(enc)); err != nil || got != `{"z":[1,"é"]}`+"\n" {
		t.Errorf("@base64d | fromjson: %q, %v", got, err)
	}
	if real, ok := realJq(t, "-c '.e | @base64d | fromjson | {z}'", []byte(enc)); ok && real != `{"z":[1,"é"]}`+"\n" {
		t.Errorf("the installed jq prints %q", real)
	}
	for _, args := range []string{"'.a | select(.x)'", "'.a as $x | $x'", "'{(.s): 1}'", "'.items[] | .k' extra"} {
		if _, err := jqRun(args, []byte(in)); err == nil {
			t.Errorf("jq %s: no error for a filter outside the subset", args)
		}
	}
}

// realJq runs the installed jq, if there is one, as `jq args` on input.
func realJq(t *testing.T, args string, input []byte) (string, bool) {
	t.Helper()
	path, err := exec.LookPath("jq")
	if err != nil {
		return "", false
	}
	var argv []string
	rest := strings.TrimSpace(args)
	for _, opt := range []string{"-c ", "-r "} {
		if r, ok := strings.CutPrefix(rest, opt); ok {
			argv, rest = append(argv, strings.TrimSpace(opt)), strings.TrimSpace(r)
		}
	}
	for _, opt := range []string{"-c ", "-r "} { // in either order
		if r, ok := strings.CutPrefix(rest, opt); ok {
			argv, rest = append(argv, strings.TrimSpace(opt)), strings.TrimSpace(r)
		}
	}
	argv = append(argv, strings.TrimSuffix(strings.TrimPrefix(rest, "'"), "'"))
	cmd := exec.Command(path, argv...)
	cmd.Stdin = bytes.NewReader(input)
	out, err := cmd.Output()
	if err != nil {
		t.Errorf("the installed jq %q: %v", argv, err)
		return "", false
	}
	return string(out), true
}
