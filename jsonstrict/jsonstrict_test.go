package jsonstrict

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// body is how the native API checks a create body.
var body = Options{MaxDepth: 72, Data: []string{"payload"}, DataMaxDepth: 64}

// data is how the gateway checks a body: every member is data.
var data = Options{MaxDepth: 64, Data: []string{AnyMember}, DataMaxDepth: 64}

func nest(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

func TestCheck_AcceptsStrictJSON(t *testing.T) {
	t.Parallel()
	for _, text := range []string{
		`{"title":"Pay invoice 42","payload":{"amount":"10.00","Amount":"x"}}`, // case variants are different keys in data
		`{"Payload":{"a":1,"A":2}}`,                     // data names match as encoding/json matches them
		`{"payload":` + nest(64) + `}`,                  // a payload 64 deep
		`{"x":` + nest(71) + `}`,                        // a body 72 deep
		`{"t":"\ud83d\ude00 \u202e é"}`,                 // a surrogate pair; Cf characters are the text policy's business
		`{"a":{"b":1},"c":{"b":1}}`,                     // the same key in two objects
		`[{"a":1},{"a":1}]`,                             // the same key in two objects of an array
		`{"a":1,"a\u0000":2}`,                           // different keys
		" \t\n{\"a\" : [1, 2.5e3, -0, true, null]}\r\n", // whitespace around
		`"just a string"`, `42`, `null`, `[]`, `{}`,
	} {
		if err := Check([]byte(text), body); err != nil {
			t.Errorf("%.80s: %v", text, err)
		}
	}
}

func TestCheck_RefusesAmbiguousOrDeepText(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		text    string
		opts    Options
		reason  Reason
		pointer string
		msg     string
	}{
		{`{"title":"a","title":"b"}`, body, Duplicate, "/title",
			`is ambiguous: the key "title" is given more than once in the object at the top level`},
		{`{"title":"a","Title":"b"}`, body, Duplicate, "/Title",
			`is ambiguous: the keys "title" and "Title" of the object at the top level differ only in letter case, so they name the same field`},
		{`{"payload":{"amount":"10.00","amount":"1000000.00"}}`, body, Duplicate, "/payload/amount",
			`is ambiguous: the key "amount" is given more than once in the object at "/payload"`},
		// Escapes do not hide a duplicate.
		{`{"payload":{"amount":1,"\u0061mount":2}}`, body, Duplicate, "/payload/amount", ""},
		// encoding/json folds the Kelvin sign and the long s too.
		{`{"policy":{"rules":[{"kind":"a","\u212aind":"b"}]}}`, body, Duplicate, "/policy/rules/0/\u212aind", ""},
		{`{"ſervice_rule":"a","service_rule":"b"}`, body, Duplicate, "/service_rule",
			`is ambiguous: the keys "\u017fervice_rule" and "service_rule" of the object at the top level differ only in letter case, so they name the same field`},
		// In data, at any depth, exact duplicates are refused.
		{`{"payload":{"a":[{"b":{"c":1,"c":2}}]}}`, body, Duplicate, "/payload/a/0/b/c", ""},
		{`{"project_name":"a","PROJECT_NAME":"b"}`, data, Duplicate, "/PROJECT_NAME", ""},
		{`{"payload":` + nest(65) + `}`, body, TooDeep, "/payload" + strings.Repeat("/0", 64),
			`is nested more than 64 levels deep counted from "/payload", at "/payload` + strings.Repeat("/0", 64) + `"`},
		{`{"x":` + nest(72) + `}`, body, TooDeep, "/x" + strings.Repeat("/0", 71), ""},
		{`{"x":` + nest(9990) + `}`, body, TooDeep, "/x" + strings.Repeat("/0", 71), ""},
		{`{"x":` + nest(64) + `}`, data, TooDeep, "/x" + strings.Repeat("/0", 63), ""},
		{`{"t":"\ud800"}`, body, Syntax, "/t", ""},
		{`{"t":"\ud800\u0041"}`, body, Syntax, "/t", ""},
		{`{"t":"\udc00\ud800"}`, body, Syntax, "/t", ""},
		{`{"\ud800":1}`, body, Syntax, "", ""},
		{"{\"t\":\"a\xff\"}", body, Syntax, "/t", `is not valid JSON: invalid UTF-8 in "/t" (at byte 7)`},
		{"{\"t\":\"\xed\xa0\x80\"}", body, Syntax, "/t", ""}, // a surrogate encoded in UTF-8
		{"\xef\xbb\xbf{}", body, Syntax, "", ""},             // a byte order mark
		{``, body, Syntax, "", "is not valid JSON: it is empty"},
		{` `, body, Syntax, "", "is not valid JSON: it is empty"},
		{`{"a":`, body, Syntax, "", "is not valid JSON: it ends too early"},
		{`{} {}`, body, Syntax, "", "holds more than one JSON value"},
		{`{}x`, body, Syntax, "", ""},
		{`{"a":NaN}`, body, Syntax, "/a", ""},
	} {
		err := Check([]byte(c.text), c.opts)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%.60q: got %v, want an *Error", c.text, err)
			continue
		}
		if e.Reason != c.reason || (c.pointer != "" && e.Pointer != c.pointer) || (c.msg != "" && e.Error() != c.msg) {
			t.Errorf("%.60q: got reason %d at %q: %s\nwant reason %d at %q: %s", c.text, e.Reason, e.Pointer, e, c.reason, c.pointer, c.msg)
		}
	}
}

func TestCheck_MessagesShowInvisibleCharactersEscaped(t *testing.T) {
	t.Parallel()
	err := Check([]byte(`{"payload":{"a\u202eb":1,"a\u202eb":2}}`), body)
	if err == nil || !strings.Contains(err.Error(), `"a\u202eb"`) || strings.ContainsRune(err.Error(), '\u202e') {
		t.Errorf("got %v", err)
	}
	long := `{"payload":{"` + strings.Repeat("é", 300) + `":` + nest(64) + `}}`
	err = Check([]byte(long), body)
	if err == nil || len(err.Error()) > 600 || !utf8.ValidString(err.Error()) {
		t.Errorf("long pointer: %d bytes: %v", len(err.Error()), err)
	}
}

func TestCheck_DoesNotChangeTheText(t *testing.T) {
	t.Parallel()
	text := []byte(`{"payload":{"a":"\u00e9"},"title":"t"}`)
	orig := string(text)
	if err := Check(text, body); err != nil || string(text) != orig {
		t.Fatalf("%v; text now %s", err, text)
	}
}

// decodesInto reports whether encoding/json decodes the key into a struct
// field named want.
func decodesInto(want, key string) bool {
	typ := reflect.StructOf([]reflect.StructField{{Name: "F", Type: reflect.TypeFor[int](), Tag: reflect.StructTag(`json:"` + want + `"`)}})
	v := reflect.New(typ)
	text, _ := json.Marshal(map[string]int{key: 1})
	return json.Unmarshal(text, v.Interface()) == nil && v.Elem().Field(0).Int() == 1
}

func TestFold_MatchesEncodingJSONFieldMatching(t *testing.T) {
	t.Parallel()
	for _, p := range [][2]string{
		{"title", "TITLE"}, {"title", "Title"}, {"service_rule", "ſervice_rule"}, {"kind", "\u212aind"},
		{"name", "nam"}, {"a_b", "a-b"}, {"σ", "Σ"}, {"σ", "ς"}, {"é", "É"}, {"ǅ", "ǆ"}, {"i", "İ"}, {"ß", "ẞ"},
	} {
		folded := fold(p[0]) == fold(p[1])
		if same := decodesInto(p[0], p[1]); folded != same {
			t.Errorf("%q vs %q: fold says same=%v, encoding/json says %v", p[0], p[1], folded, same)
		}
	}
}

func FuzzFold(f *testing.F) {
	f.Add("title", "Title")
	f.Add("service_rule", "ſervice_rule")
	f.Add("k", "\u212a")
	f.Fuzz(func(t *testing.T, a, b string) {
		if !utf8.ValidString(a) || !utf8.ValidString(b) {
			return
		}
		if got, want := fold(a) == fold(b), bytes.EqualFold([]byte(a), []byte(b)); got != want {
			t.Fatalf("%q, %q: fold equal %v, bytes.EqualFold %v", a, b, got, want)
		}
	})
}

// Attack bodies of the security review, and texts around the limits.
var fuzzSeeds = []string{
	`{"title":"a","title":"b"}`,
	`{"title":"a","Title":"b"}`,
	`{"title":"Pay","payload":{"amount":"10.00","amount":"1000000.00"}}`,
	`{"title":"Pay invoice \u202egnp.exe\u202c 42","payload":{}}`,
	`{"title":"\ud800","payload":{"x":"\udfff"}}`,
	"{\"title\":\"caf\xe9\"}",
	`{"payload":` + nest(64) + `}`,
	`{"payload":` + nest(65) + `}`,
	`{"payload":{"a":{"A":1,"a":2}},"Payload":{}}`,
	`{"policy":{"rules":[{"min_approvals":1,"Min_Approvals":2}]}}`,
	`{"a":1e400,"b":-0.0,"c":12345678901234567890123,"d":"\u0000"}`,
}

// oracle reads text with encoding/json, which knows nothing of duplicate
// keys or depth limits, and says what Check should say of it.
type oracle struct {
	dec      *json.Decoder
	o        Options
	anyData  bool
	dup      bool // a key given twice (folded outside data)
	tooDeep  bool
	maxDepth int
}

func (or *oracle) value(tok json.Token, depth, dataBase int, isData bool) error {
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	if isData {
		dataBase = depth
	}
	depth++
	or.maxDepth = max(or.maxDepth, depth)
	if depth > or.o.MaxDepth || (dataBase >= 0 && depth-dataBase > or.o.DataMaxDepth) {
		or.tooDeep = true
	}
	var keys []string
	for or.dec.More() {
		childData := false
		if d == '{' {
			kt, err := or.dec.Token()
			if err != nil {
				return err
			}
			key := kt.(string)
			for _, k := range keys {
				if k == key || (dataBase < 0 && bytes.EqualFold([]byte(k), []byte(key))) {
					or.dup = true
				}
			}
			keys = append(keys, key)
			if depth == 1 {
				for _, name := range or.o.Data {
					childData = childData || name == AnyMember || bytes.EqualFold([]byte(name), []byte(key))
				}
			}
		}
		vt, err := or.dec.Token()
		if err != nil {
			return err
		}
		if err := or.value(vt, depth, dataBase, childData); err != nil {
			return err
		}
	}
	_, err := or.dec.Token()
	return err
}

// surrogateEscape finds an escaped UTF-16 surrogate (encoding/json replaces
// unpaired ones silently, so the oracle looks at the text).
var surrogateEscape = regexp.MustCompile(`\\u[dD][89a-fA-F][0-9a-fA-F]{2}`)

// jsontextValue reads text with jsontext into the values encoding/json
// gives with UseNumber.
func jsontextValue(dec *jsontext.Decoder) (any, error) {
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, err
	}
	switch tok.Kind() {
	case '{':
		m := map[string]any{}
		for dec.PeekKind() != '}' {
			k, err := dec.ReadToken()
			if err != nil {
				return nil, err
			}
			key := k.String() // before the next read voids k
			v, err := jsontextValue(dec)
			if err != nil {
				return nil, err
			}
			m[key] = v
		}
		_, err := dec.ReadToken()
		return m, err
	case '[':
		a := []any{}
		for dec.PeekKind() != ']' {
			v, err := jsontextValue(dec)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err := dec.ReadToken()
		return a, err
	case '"':
		return tok.String(), nil
	case '0':
		return json.Number(tok.String()), nil
	case 't', 'f':
		return tok.Bool(), nil
	}
	return nil, nil
}

func FuzzStrict(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, text []byte, allData bool) {
		o := body
		if allData {
			o = data
		}
		orig := string(text)
		err := Check(text, o)
		if string(text) != orig {
			t.Fatal("Check changed the text")
		}
		valid := json.Valid(text) && utf8.Valid(text)
		var or *oracle
		if valid {
			or = &oracle{dec: json.NewDecoder(bytes.NewReader(text)), o: o}
			or.dec.UseNumber()
			tok, terr := or.dec.Token()
			if terr == nil {
				terr = or.value(tok, 0, -1, false)
			}
			if terr != nil {
				t.Fatalf("encoding/json tokens of valid JSON %q: %v", text, terr)
			}
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("%q: error %T %v", text, err, err)
			}
			// Refusing a text that is not JSON is right whatever the
			// reason (the first problem found is reported); refusing
			// valid JSON needs a reason encoding/json can confirm.
			switch {
			case !valid:
			case e.Reason == Syntax:
				if !surrogateEscape.Match(text) {
					t.Fatalf("%q refused as not JSON (%v), but it is", text, err)
				}
			case e.Reason == Duplicate:
				if !or.dup {
					t.Fatalf("%q refused for a duplicate (%v) encoding/json does not see", text, err)
				}
			case e.Reason == TooDeep:
				if !or.tooDeep {
					t.Fatalf("%q refused as too deep (%v), depth %d", text, err, or.maxDepth)
				}
			default:
				t.Fatalf("%q: reason %d", text, e.Reason)
			}
			return
		}
		// Accepted: valid UTF-8 JSON, no duplicate, within the limits, and
		// both readers read the same value.
		if !valid {
			t.Fatalf("accepted %q, which is not valid UTF-8 JSON", text)
		}
		if or.dup || or.tooDeep {
			t.Fatalf("accepted %q: duplicate %v, too deep %v (depth %d)", text, or.dup, or.tooDeep, or.maxDepth)
		}
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.UseNumber()
		var want any
		if err := dec.Decode(&want); err != nil {
			t.Fatalf("encoding/json cannot decode accepted %q: %v", text, err)
		}
		got, err := jsontextValue(jsontext.NewDecoder(bytes.NewReader(text)))
		if err != nil && err != io.EOF {
			t.Fatalf("jsontext cannot read accepted %q: %v", text, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("readers disagree on %q:\njsontext      %#v\nencoding/json %#v", text, got, want)
		}
	})
}
