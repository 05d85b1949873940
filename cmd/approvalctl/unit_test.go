package main

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

func TestJSONToYAML_KeepsKeyOrderNumbersAndQuotesAmbiguousStrings(t *testing.T) {
	t.Parallel()
	got, err := jsonToYAML([]byte(`{"z":1,"a":{"big":12345678901234567890,"amount":"1200.00","yes":"true","list":[1,"two"],"empty":{}},"n":null}`))
	if err != nil {
		t.Fatal(err)
	}
	want := "z: 1\na:\n  big: 12345678901234567890\n  amount: \"1200.00\"\n  yes: \"true\"\n  list:\n    - 1\n    - two\n  empty: {}\nn: null\n"
	if string(got) != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestDecodeDocument_ReadsYAMLOrJSONAndRefusesUnknownFields(t *testing.T) {
	t.Parallel()
	var v struct {
		Title string `json:"title"`
		N     int    `json:"n"`
	}
	if err := decodeDocument([]byte("title: hi\nn: 3\n"), &v); err != nil || v.Title != "hi" || v.N != 3 {
		t.Fatalf("YAML: %+v %v", v, err)
	}
	if err := decodeDocument([]byte(`{"title":"j","n":4}`), &v); err != nil || v.Title != "j" {
		t.Fatalf("JSON: %+v %v", v, err)
	}
	if err := decodeDocument([]byte("title: x\ntitel: y\n"), &v); err == nil || !strings.Contains(err.Error(), "titel") {
		t.Fatalf("unknown field: %v", err)
	}
	if err := decodeDocument([]byte("a: [unclosed\n"), &v); err == nil {
		t.Fatal("broken YAML decoded")
	}
}

func TestParseDeadline_TakesATimeOrADurationFromNow(t *testing.T) {
	t.Parallel()
	d, err := parseDeadline("2030-01-02T15:04:05Z")
	if err != nil || !d.Equal(time.Date(2030, 1, 2, 15, 4, 5, 0, time.UTC)) {
		t.Fatalf("RFC 3339: %v %v", d, err)
	}
	d, err = parseDeadline("90m")
	if err != nil || time.Until(d) < 80*time.Minute || time.Until(d) > 91*time.Minute {
		t.Fatalf("duration: %v %v", d, err)
	}
	if _, err := parseDeadline("friday"); err == nil {
		t.Fatal("friday parsed")
	}
}

func TestNormalizeServer_AddsHTTPToAHostAndRefusesOtherSchemes(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"localhost:8000": "http://localhost:8000", "https://a.example/": "https://a.example"} {
		if got, err := normalizeServer(in); err != nil || got != want {
			t.Errorf("normalizeServer(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"ftp://x", "http://", ""} {
		if _, err := normalizeServer(bad); err == nil {
			t.Errorf("normalizeServer(%q) succeeded", bad)
		}
	}
}

func TestWaitsForDecision_CountsCreateOnlyWithWait(t *testing.T) {
	t.Parallel()
	wait := &cobra.Command{Annotations: map[string]string{waitExitAnnotation: waitExitAlways}}
	create := &cobra.Command{Annotations: map[string]string{waitExitAnnotation: waitExitWithFlag}}
	cases := []struct {
		cmd  *cobra.Command
		args []string
		want bool
	}{
		{wait, nil, true},
		{create, []string{"create", "--title", "x"}, false},
		{create, []string{"create", "--wait", "--bogus"}, true},
		{create, []string{"create", "--wait=false"}, false},
		{create, []string{"create", "--", "--wait"}, false},
		{&cobra.Command{}, []string{"--wait"}, false},
	}
	for _, c := range cases {
		if got := waitsForDecision(c.cmd, c.args); got != c.want {
			t.Errorf("waitsForDecision(%v) = %v", c.args, got)
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for the spinner's goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestSpinner_DrawsTheTextAndErasesItsLineOnStop(t *testing.T) {
	t.Parallel()
	var out lockedBuffer
	s := startSpinner(&out, "waiting for r1", time.Hour)
	s.set("r1 is pending: waiting for 1 more approval")
	s.stop()
	s.stop() // twice is harmless
	got := out.String()
	if !strings.Contains(got, "⠋ waiting for r1 (0s)") || !strings.Contains(got, "r1 is pending: waiting for 1 more approval") {
		t.Fatalf("drawn: %q", got)
	}
	if !strings.HasSuffix(got, "\r\x1b[K") {
		t.Fatalf("the line is not erased at the end: %q", got)
	}
	var nilSpinner *spinner
	nilSpinner.set("x") // a spinner that is not shown does nothing
	nilSpinner.stop()
}
