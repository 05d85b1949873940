package jsonstrict

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// AnyMember, as the only entry of Options.Data, makes the value of every
// member of the top-level object data.
const AnyMember = "*"

// Options says how strict Check is.
type Options struct {
	// MaxDepth bounds the nesting of the whole text: a scalar has depth 0,
	// {} and [] depth 1, {"a":[]} depth 2. It must be at least 1.
	MaxDepth int
	// Data names the members of the top-level object whose values are
	// data rather than fields of a Go struct: their keys keep the meaning
	// they have for any JSON reader, so only keys that are the same after
	// unescaping count as given twice. Elsewhere, keys that encoding/json
	// would match to the same struct field (they differ only in letter
	// case) count as given twice too. Data names match as encoding/json
	// matches field names, case-insensitively.
	Data []string
	// DataMaxDepth bounds the nesting of each data value, counted from the
	// value itself ({} has depth 1).
	DataMaxDepth int
}

// Reason classifies a refused text.
type Reason uint8

// The reasons.
const (
	// Syntax: not one JSON value, or not valid UTF-8 (which includes an
	// escaped UTF-16 surrogate without its other half).
	Syntax Reason = iota + 1
	// Duplicate: a key given twice in one object, exactly or, outside
	// data, in another letter case.
	Duplicate
	// TooDeep: nested deeper than a limit.
	TooDeep
)

// Error describes why Check refused a text. Its message names the place
// with a JSON Pointer (RFC 6901), quoted with Go escapes for everything
// beyond printable ASCII, so that whatever a key holds shows as visible text.
type Error struct {
	Reason Reason
	// Pointer is the JSON Pointer of the offending member or value; "" is
	// the whole text.
	Pointer string
	// Offset is the byte offset in the text at or after which the problem is.
	Offset int64
	msg    string
}

// Error returns what is wrong and where, as a predicate: "the request body "
// followed by it reads as a sentence ("… is ambiguous: the key "amount" is
// given more than once in the object at "/payload"").
func (e *Error) Error() string { return e.msg }

// maxPointerShown bounds how much of a pointer a message repeats.
const maxPointerShown = 200

// where quotes a pointer for a message, shortened in the middle when long.
func where(ptr string) string {
	if ptr == "" {
		return "the top level"
	}
	if len(ptr) > maxPointerShown {
		head, tail := ptr[:maxPointerShown/2], ptr[len(ptr)-maxPointerShown/2:]
		for !utf8.ValidString(head) {
			head = head[:len(head)-1]
		}
		for !utf8.ValidString(tail) {
			tail = tail[1:]
		}
		ptr = head + "…" + tail
	}
	return strconv.QuoteToASCII(ptr)
}

// Check returns nil when text is one JSON value, in UTF-8, with no key
// given twice in an object (see Options.Data for when letter case counts)
// and nested no deeper than the limits of o. Otherwise it returns an
// *Error. It never changes text.
func Check(text []byte, o Options) error {
	c := checkers.Get().(*checker)
	defer c.release()
	c.buf = *bytes.NewBuffer(text) // parsed in place, not copied
	c.dec.Reset(&c.buf)
	c.o, c.dataBase, c.nextIsData, c.started = o, -1, false, false
	c.anyData = len(o.Data) == 1 && o.Data[0] == AnyMember
	return c.run()
}

// checkers keeps checkers for reuse: a decoder's state and the key sets
// cost more allocations than the check itself.
var checkers = sync.Pool{New: func() any {
	return &checker{dec: jsontext.NewDecoder(new(bytes.Buffer)), stack: make([]*keySet, 0, 16)}
}}

// release forgets the text, so that the pool keeps no body alive, and
// returns c to the pool.
func (c *checker) release() {
	for _, s := range c.stack {
		if s != nil {
			c.spare = append(c.spare, s)
		}
	}
	c.stack = c.stack[:0]
	c.buf = bytes.Buffer{}
	c.dec.Reset(&c.buf)
	checkers.Put(c)
}

type checker struct {
	buf bytes.Buffer // the text
	dec *jsontext.Decoder
	o   Options
	// stack has one entry per open object or array: the keys seen so far
	// in an object outside data, folded; nil for arrays and data objects.
	stack []*keySet
	// spare keeps key sets of closed objects for reuse.
	spare []*keySet
	// dataBase is the depth of the object holding the data member being
	// read (its value's containers start one deeper), or -1 outside data.
	dataBase int
	// nextIsData says that the value about to be read is a data member's.
	nextIsData bool
	anyData    bool
	started    bool // a token was read
}

func (c *checker) run() error {
	for {
		tok, err := c.dec.ReadToken()
		if err != nil {
			return c.syntax(err)
		}
		c.started = true
		depth := len(c.stack)
		switch k := tok.Kind(); k {
		case '{', '[':
			if c.nextIsData {
				c.dataBase, c.nextIsData = depth, false
			}
			depth++
			if depth > c.o.MaxDepth {
				return c.tooDeep(c.o.MaxDepth, "")
			}
			if c.dataBase >= 0 && depth-c.dataBase > c.o.DataMaxDepth {
				return c.tooDeep(c.o.DataMaxDepth, " counted from "+where(c.dataPointer()))
			}
			var set *keySet
			if k == '{' && c.dataBase < 0 {
				set = c.newSet()
			}
			c.stack = append(c.stack, set)
		case '}', ']':
			if set := c.stack[depth-1]; set != nil {
				c.spare = append(c.spare, set)
			}
			c.stack = c.stack[:depth-1]
			if depth-1 == c.dataBase {
				c.dataBase = -1
			}
		default:
			if depth > 0 {
				if kind, n := c.dec.StackIndex(depth); kind == '{' && n%2 == 1 {
					if err := c.key(tok, depth); err != nil {
						return err
					}
					continue
				}
			}
			c.nextIsData = false // a scalar data value
		}
		if len(c.stack) == 0 {
			return c.end()
		}
	}
}

// key handles the key just read in the object at depth.
func (c *checker) key(tok jsontext.Token, depth int) error {
	set := c.stack[depth-1]
	if set == nil {
		return nil // in data: jsontext refuses exact duplicates
	}
	name := tok.String()
	folded := fold(name)
	if depth == 1 && c.isData(folded) {
		c.nextIsData = true
	}
	if prev, dup := set.add(folded, name); dup {
		return &Error{
			Reason: Duplicate, Pointer: string(c.dec.StackPointer()), Offset: c.dec.InputOffset(),
			msg: fmt.Sprintf("is ambiguous: the keys %s and %s of the object at %s differ only in letter case, so they name the same field",
				strconv.QuoteToASCII(prev), strconv.QuoteToASCII(name), where(string(c.dec.StackPointer().Parent()))),
		}
	}
	return nil
}

// isData reports whether the top-level key folded to folded names data.
func (c *checker) isData(folded string) bool {
	if c.anyData {
		return true
	}
	for _, d := range c.o.Data {
		if fold(d) == folded {
			return true
		}
	}
	return false
}

// dataPointer is the pointer of the data value being read: the first
// dataBase reference tokens of the current one.
func (c *checker) dataPointer() string {
	p := string(c.dec.StackPointer())
	n := 0
	for i := 0; i < len(p); i++ {
		if p[i] == '/' {
			if n == c.dataBase {
				return p[:i]
			}
			n++
		}
	}
	return p
}

// end checks that nothing but whitespace follows the value.
func (c *checker) end() error {
	_, err := c.dec.ReadToken()
	switch {
	case err == io.EOF:
		return nil
	case err != nil:
		return c.syntax(err)
	}
	return &Error{Reason: Syntax, Offset: c.dec.InputOffset(), msg: "holds more than one JSON value"}
}

func (c *checker) tooDeep(limit int, counted string) error {
	ptr := string(c.dec.StackPointer())
	return &Error{
		Reason: TooDeep, Pointer: ptr, Offset: c.dec.InputOffset(),
		msg: fmt.Sprintf("is nested more than %d levels deep%s, at %s", limit, counted, where(ptr)),
	}
}

// syntax turns an error of jsontext into an *Error.
func (c *checker) syntax(err error) error {
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		if !c.started {
			return &Error{Reason: Syntax, msg: "is not valid JSON: it is empty"}
		}
		return &Error{Reason: Syntax, Offset: c.dec.InputOffset(), msg: "is not valid JSON: it ends too early"}
	}
	var se *jsontext.SyntacticError
	if !errors.As(err, &se) {
		return &Error{Reason: Syntax, Offset: c.dec.InputOffset(), msg: "is not valid JSON"}
	}
	ptr := string(se.JSONPointer)
	if se.Err == jsontext.ErrDuplicateName {
		return &Error{
			Reason: Duplicate, Pointer: ptr, Offset: se.ByteOffset,
			msg: fmt.Sprintf("is ambiguous: the key %s is given more than once in the object at %s",
				strconv.QuoteToASCII(se.JSONPointer.LastToken()), where(string(se.JSONPointer.Parent()))),
		}
	}
	msg := visible(strings.TrimPrefix(se.Err.Error(), "jsontext: "))
	at := ""
	if ptr != "" {
		at = " in " + where(ptr)
	}
	return &Error{Reason: Syntax, Pointer: ptr, Offset: se.ByteOffset,
		msg: fmt.Sprintf("is not valid JSON: %s%s (at byte %d)", msg, at, se.ByteOffset)}
}

func (c *checker) newSet() *keySet {
	if n := len(c.spare); n > 0 {
		s := c.spare[n-1]
		c.spare = c.spare[:n-1]
		s.reset()
		return s
	}
	s := &keySet{}
	s.keys = s.small[:0]
	return s
}

// keySet is the set of folded keys of one object. Objects outside data are
// small (fields of a struct), so a slice does; a map takes over when one is
// not, to keep a large object linear.
type keySet struct {
	keys  []key
	small [8]key            // keys' first array
	big   map[string]string // folded key → the key as given
}

type key struct{ folded, name string }

const smallSet = 16

// add adds a key, reporting the key it was first given as when the same
// folded key is there already.
func (s *keySet) add(folded, name string) (string, bool) {
	if s.big != nil {
		if prev, ok := s.big[folded]; ok {
			return prev, true
		}
		s.big[folded] = name
		return "", false
	}
	for _, k := range s.keys {
		if k.folded == folded {
			return k.name, true
		}
	}
	s.keys = append(s.keys, key{folded, name})
	if len(s.keys) > smallSet {
		s.big = make(map[string]string, 2*smallSet)
		for _, k := range s.keys {
			s.big[k.folded] = k.name
		}
	}
	return "", false
}

func (s *keySet) reset() {
	s.keys, s.big = s.keys[:0], nil
	if cap(s.keys) > 4*smallSet {
		s.keys = s.small[:0] // a pooled checker keeps no large set
	}
}

// fold returns name folded as encoding/json matches keys to struct fields
// (bytes.EqualFold, simple Unicode case folding): two keys name the same
// field exactly when their folds are equal. Each rune becomes the smallest
// rune of its folding orbit, and an ASCII letter its lower case, so "K",
// "k" and the Kelvin sign K all fold to "k", and "ſ" (long s) with "s" and
// "S" to "s". A key in lower-case ASCII, the usual, is its own fold.
func fold(name string) string {
	i := 0
	for ; i < len(name); i++ {
		if c := name[i]; c >= utf8.RuneSelf || ('A' <= c && c <= 'Z') {
			break
		}
	}
	if i == len(name) {
		return name
	}
	b := make([]byte, i, len(name))
	copy(b, name[:i])
	for _, r := range name[i:] {
		if r >= utf8.RuneSelf {
			r = foldRune(r)
		}
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		b = utf8.AppendRune(b, r)
	}
	return string(b)
}

// foldRune returns the smallest rune of r's simple folding orbit.
func foldRune(r rune) rune {
	smallest := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		smallest = min(smallest, f)
	}
	return smallest
}

// visible returns msg with every character beyond printable ASCII escaped:
// jsontext's messages may quote a few bytes of the text.
func visible(msg string) string {
	var b strings.Builder
	for _, r := range msg {
		switch {
		case r == utf8.RuneError:
			b.WriteString(`\ufffd`)
		case r < ' ' || r > '~':
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
