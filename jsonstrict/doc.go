// Package jsonstrict checks that a JSON text means one thing to every
// reader, before any face of approvald decodes it.
//
// JSON readers disagree on texts that RFC 8259 leaves open: a key given
// twice (most readers keep the last, some the first, a table shows both),
// keys that differ only in letter case (Go's encoding/json puts both in one
// struct field), invalid UTF-8 and unpaired UTF-16 surrogate escapes (some
// readers replace them, some refuse them), and very deep nesting (many
// readers stop at a depth of their own). A reviewer could be shown one
// value while the service that acts on the decision reads another. Check
// refuses such texts, so what encoding/json decodes afterwards is the only
// reading there is.
//
// Check is built on the tokenizer of github.com/go-json-experiment/json/jsontext,
// which already refuses invalid UTF-8, unpaired surrogate escapes and keys
// given twice (after unescaping). Check adds what is specific to the way
// approvald decodes bodies: outside the values named as data, keys that
// differ only in case (as encoding/json folds them) are refused too; and
// nesting depth is bounded, for the whole text and, more tightly, for each
// data value counted from that value's root.
package jsonstrict
