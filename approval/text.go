package approval

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The text policy: what people read must be what is there. A reviewer who
// reads a title or a description must not be deceived by characters that
// show nothing or rearrange the text around them, as in "Pay invoice
// \u202egnp.exe\u202c 42", which shows as "Pay invoice exe.png 42".
//
// Single-line fields that people read (title, subject, the service rule a
// request names) refuse every control character and every invisible one
// (see Invisible). Multi-line fields (description, comments) keep tab and
// line breaks, and the invisible joiners some scripts and emoji need
// (U+200C, U+200D), but refuse the other control characters and the
// bidirectional formatting characters (see BidiControl). Both refuse
// invalid UTF-8 (never replaced), NUL, and a value that is not empty but
// has nothing visible in it. Payload values are data and are not checked
// here: the web UI shows their invisible characters as visible escapes.

// BidiControl reports whether r is a bidirectional formatting character:
// the embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069)
// that reorder the text displayed around them, and the marks (U+061C,
// U+200E, U+200F) that change how neutral characters beside them are
// ordered.
func BidiControl(r rune) bool {
	switch {
	case r == 0x061C, r == 0x200E, r == 0x200F:
		return true
	case 0x202A <= r && r <= 0x202E, 0x2066 <= r && r <= 0x2069:
		return true
	}
	return false
}

// Invisible reports whether r shows nothing of itself or changes how the
// text around it shows: control characters (category Cc), format
// characters (Cf: the bidirectional controls, zero-width spaces and
// joiners U+200B–U+200F, U+2060–U+2064, the byte order mark U+FEFF, the
// soft hyphen U+00AD, tag characters…), the line and paragraph separators
// (Zl, Zp), and the Hangul fillers, letters that render as blank space.
func Invisible(r rune) bool {
	switch r {
	case 0x115F, 0x1160, 0x3164, 0xFFA0: // Hangul fillers
		return true
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp)
}

// blank reports whether s has no character that shows: only spaces and
// invisible characters.
func blank(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsSpace(r) && !Invisible(r) })
}

// describeRune names r for a message: its code point, and where it is.
func describeRune(s string, i int) string {
	r, _ := utf8.DecodeRuneInString(s[i:])
	return fmt.Sprintf("U+%04X at character %d", r, utf8.RuneCountInString(s[:i])+1)
}

// CheckLine adds to v what is wrong with s as the value of the single-line
// text field named field, which people read: invalid UTF-8, NUL, more than
// max characters, a control or invisible character (see Invisible; the
// message names the first one), or nothing visible at all. An empty s is
// wrong only when required.
func CheckLine(v *Validation, field, s string, max int, required bool) {
	if !checkCommon(v, field, s, max, required) {
		return
	}
	if i := strings.IndexFunc(s, Invisible); i >= 0 {
		v.Add(field, "must not contain control or invisible characters (found %s)", describeRune(s, i))
	}
}

// CheckProse adds to v what is wrong with s as the value of the multi-line
// text field named field, which people read: invalid UTF-8, NUL, more than
// max characters, a bidirectional formatting character (see BidiControl),
// another control or invisible character (see Invisible) other than tab,
// line feed, carriage return and the zero-width (non-)joiner — the message
// names the first one —, or nothing visible at all. An empty s is wrong
// only when required.
func CheckProse(v *Validation, field, s string, max int, required bool) {
	if !checkCommon(v, field, s, max, required) {
		return
	}
	if i := strings.IndexFunc(s, BidiControl); i >= 0 {
		v.Add(field, "must not contain bidirectional formatting characters, which change the order in which text is shown (found %s)", describeRune(s, i))
		return
	}
	// Tab and line breaks (U+2028, U+2029 too) shape prose; the zero-width
	// joiner and non-joiner are needed to write some languages, and a soft
	// hyphen shows where a line breaks. Any other invisible character could
	// hide text from the reviewer who reads it.
	hidden := func(r rune) bool {
		switch r {
		case '\t', '\n', '\r', 0x200C, 0x200D, 0x00AD, 0x2028, 0x2029:
			return false // tab, line breaks, joiners, the soft hyphen
		}
		return Invisible(r)
	}
	if i := strings.IndexFunc(s, hidden); i >= 0 {
		v.Add(field, "must not contain control characters other than tab and line breaks, nor invisible ones (found %s)", describeRune(s, i))
	}
}

// checkCommon records the problems every text field has in common and
// reports whether s is worth checking further.
func checkCommon(v *Validation, field, s string, max int, required bool) bool {
	switch {
	case !utf8.ValidString(s):
		v.Add(field, "must be valid UTF-8")
	case strings.ContainsRune(s, 0):
		v.Add(field, "must not contain NUL characters")
	case s == "" || strings.TrimSpace(s) == "":
		if required {
			v.Add(field, "is required")
		}
		return false // spaces alone hide nothing
	case utf8.RuneCountInString(s) > max:
		v.Add(field, "must be at most %d characters", max)
	case blank(s):
		v.Add(field, "must contain a visible character, not only spaces and invisible ones")
	default:
		return true
	}
	return false
}
