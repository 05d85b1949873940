package approval

import (
	"strings"
	"testing"
	"time"
	"unicode"
)

var testNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func lineErr(s string) error {
	var v Validation
	CheckLine(&v, "title", s, 200, true)
	return v.Err()
}

func proseErr(s string) error {
	var v Validation
	CheckProse(&v, "description", s, 10_000, false)
	return v.Err()
}

func TestCheckLine_RefusesInvisibleAndControlCharacters(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]string{
		"Pay invoice \u202egnp.exe\u202c 42": "title: must not contain control or invisible characters (found U+202E at character 13)",
		"a\u200bb":                           "U+200B",
		"a\u2066b\u2069":                     "U+2066",
		"\ufeffPay":                          "U+FEFF",
		"soft\u00adhyphen":                   "U+00AD",
		"word\u2060joiner":                   "U+2060",
		"tag\U000E0041":                      "U+E0041",
		"line\u2028sep":                      "U+2028",
		"tab\there":                          "U+0009",
		"new\nline":                          "U+000A",
		"esc\x1b[31m":                        "U+001B",
		"c1\u0085":                           "U+0085",
		"hangul\u3164filler":                 "U+3164",
		"\u200b\u200b":                       "title: must contain a visible character, not only spaces and invisible ones",
		"\u00a0\u200d":                       "must contain a visible character",
		"   ":                                "title: is required",
		"":                                   "title: is required",
		"nul\x00":                            "title: must not contain NUL characters",
		"caf\xe9":                            "title: must be valid UTF-8",
		strings.Repeat("é", 201):             "title: must be at most 200 characters",
	} {
		err := lineErr(s)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", s, err, want)
		}
	}
}

func TestCheckLine_AcceptsOrdinaryText(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"Pay invoice 42", "Déploiement 2.0", "שלם חשבונית 42", "ادفع الفاتورة", "付款 42", "Straße € 1\u00a0000",
		"emoji 🎉", "\ufffd replacement char", "e\u0301 combining",
	} {
		if err := lineErr(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
}

func TestCheckProse_KeepsLineBreaksButRefusesBidiControls(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"line one\nline two\r\n\tindented", "ZWJ family 👨\u200d👩\u200d👧", "ZWNJ می\u200cخواهم", "soft\u00adhyphen",
		"line \u2028 separator", "", "   ",
	} {
		if err := proseErr(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	for s, want := range map[string]string{
		"see \u202egnp.exe":  "description: must not contain bidirectional formatting characters, which change the order in which text is shown (found U+202E at character 5)",
		"isolate \u2067x":    "U+2067",
		"mark \u200f":        "U+200F",
		"arabic mark \u061c": "U+061C",
		"esc \x1b[2J":        "must not contain control characters other than tab and line breaks, nor invisible ones (found U+001B at character 5)",
		"\u200b":             "must contain a visible character",
		"nul \x00":           "must not contain NUL characters",
		"bad \xff":           "must be valid UTF-8",
	} {
		err := proseErr(s)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", s, err, want)
		}
	}
}

func TestInvisible_CoversEveryFormatCharacter(t *testing.T) {
	t.Parallel()
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if unicode.In(r, unicode.Cf, unicode.Cc) && !Invisible(r) {
			t.Fatalf("U+%04X is Cf or Cc but not Invisible", r)
		}
		if BidiControl(r) && !unicode.Is(unicode.Cf, r) {
			t.Fatalf("U+%04X is a bidi control but not Cf", r)
		}
	}
}

func TestNew_TitleWithBidiOverrideIsRefused(t *testing.T) {
	t.Parallel()
	p := Principal{ID: "svc:billing", Scopes: []Scope{ScopeCreate}}
	_, _, err := New("01890000-0000-7000-8000-000000000001", Draft{Title: "Pay invoice \u202egnp.exe\u202c 42"}, p, Mandate{Policy: DefaultPolicy(), Source: "default"}, testNow)
	if KindOf(err) != KindInvalid || !strings.Contains(err.Error(), "U+202E") {
		t.Fatalf("got %v", err)
	}
	_, _, err = New("01890000-0000-7000-8000-000000000001", Draft{Title: "ok", Description: "a \u2066b"}, p, Mandate{Policy: DefaultPolicy(), Source: "default"}, testNow)
	if KindOf(err) != KindInvalid || !strings.Contains(err.Error(), "description") {
		t.Fatalf("description: got %v", err)
	}
	_, _, err = New("01890000-0000-7000-8000-000000000001", Draft{Title: "ok", Subject: "cr8tor:\u200bp/r"}, p, Mandate{Policy: DefaultPolicy(), Source: "default"}, testNow)
	if KindOf(err) != KindInvalid || !strings.Contains(err.Error(), "subject") {
		t.Fatalf("subject: got %v", err)
	}
}

// A zero-width space or a tag character in prose could hide text from the
// reviewer: refused; the joiners some scripts need are kept.
func TestCheckProse_RefusesHiddenCharactersKeepsJoiners(t *testing.T) {
	for _, s := range []string{"pay\u200b 10", "word\u2060joiner", "bom\ufeff", "tag\U000E0041"} {
		var v Validation
		CheckProse(&v, "description", s, 100, false)
		if v.Err() == nil {
			t.Errorf("%q was accepted", s)
		}
	}
	var v Validation
	CheckProse(&v, "description", "\u0915\u094d\u200d\u0937 and \u200c", 100, false)
	if err := v.Err(); err != nil {
		t.Errorf("joiners refused: %v", err)
	}
}
