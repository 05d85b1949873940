package client

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// readAll parses every event of an SSE stream.
func readAll(t *testing.T, in string) []sseMessage {
	t.Helper()
	r := newSSEReader(strings.NewReader(in))
	var out []sseMessage
	for {
		m, err := r.next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
}

func TestSSE_ParsesFieldsCommentsAndLineEndings(t *testing.T) {
	t.Parallel()
	in := "\ufeff: approvald event stream\n\n" +
		"id: 7\nevent: approval.decided\ndata: {\"a\":1}\n\n" +
		"data:no space\r\ndata:  two spaces\r\n\r\n" + // CRLF; the id of 7 carries over
		"event: dropped\n\n" + // no data: not dispatched
		"id: 9\rdata: cr\r\r" + // CR alone
		"retry: 10\nunknown: x\ndata\n\n" +
		"id: 10\ndata: unfinished"
	got := readAll(t, in)
	want := []sseMessage{
		{ID: "7", HasID: true, Event: "approval.decided", Data: `{"a":1}`},
		{ID: "7", HasID: true, Data: "no space\n two spaces"},
		{ID: "9", HasID: true, Data: "cr"},
		{ID: "9", HasID: true, Data: ""},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d events %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestSSE_RefusesALineLongerThanTheLimit(t *testing.T) {
	t.Parallel()
	r := newSSEReader(strings.NewReader("data: " + strings.Repeat("x", 100) + "\n\n"))
	r.max = 50
	if _, err := r.next(); err != errSSELineTooLong {
		t.Fatalf("err = %v", err)
	}
}

// encodeSSE writes messages back as a stream the reader must read alike.
func encodeSSE(msgs []sseMessage) string {
	var b strings.Builder
	for _, m := range msgs {
		if m.HasID {
			b.WriteString("id: " + m.ID + "\n")
		}
		if m.Event != "" {
			b.WriteString("event: " + m.Event + "\n")
		}
		for l := range strings.SplitSeq(m.Data, "\n") {
			b.WriteString("data: " + l + "\n")
		}
		b.WriteString("\n")
	}
	return b.String()
}

func FuzzParseSSE(f *testing.F) {
	f.Add([]byte("id: 1\nevent: approval.created\ndata: {\"type\":\"approval.created\"}\n\n"))
	f.Add([]byte(": comment\r\n\r\ndata: a\r\ndata: b\r\n\r\n"))
	f.Add([]byte("id: 2\rdata: x\r\r"))
	f.Add([]byte("data"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := newSSEReader(strings.NewReader(string(in)))
		r.max = 1 << 16
		var msgs []sseMessage
		for {
			m, err := r.next()
			if err != nil {
				break
			}
			if strings.ContainsAny(m.Event, "\r\n") || strings.ContainsAny(m.ID, "\r\n\x00") || strings.ContainsAny(m.Data, "\r") {
				t.Fatalf("a field holds a line break: %+v", m)
			}
			msgs = append(msgs, m)
			_, _ = decodeEvent(m) // must not panic on any data
		}
		// Written back out, the events read the same.
		again := readAllF(t, encodeSSE(msgs))
		if len(again) != len(msgs) {
			t.Fatalf("re-read %d events, want %d", len(again), len(msgs))
		}
		for i := range msgs {
			if again[i] != msgs[i] {
				t.Fatalf("event %d re-read as %+v, want %+v", i, again[i], msgs[i])
			}
		}
	})
}

func readAllF(t *testing.T, in string) []sseMessage {
	r := newSSEReader(strings.NewReader(in))
	r.max = 1 << 20
	var out []sseMessage
	for {
		m, err := r.next()
		if err != nil {
			if err != io.EOF {
				t.Fatal(err)
			}
			return out
		}
		out = append(out, m)
	}
}

func TestRetry_HonoursRetryAfterAndBacksOffExponentially(t *testing.T) {
	t.Parallel()
	var (
		mu sync.Mutex
		n  int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		k := n
		mu.Unlock()
		switch k {
		case 1:
			w.Header().Set("Retry-After", "3")
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"status":429,"code":"rate_limited","detail":"slow down"}`))
		case 2, 3:
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			_, _ = w.Write([]byte(`{"status":"ok"}`))
		}
	}))
	defer srv.Close()
	c, err := New(srv.URL, WithRetry(RetryPolicy{MaxAttempts: 5, MinDelay: time.Second, MaxDelay: 10 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	var slept []time.Duration
	c.sleep = func(_ context.Context, d time.Duration) error {
		slept = append(slept, d)
		return nil
	}
	if err := c.Health(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(slept) != 3 || slept[0] != 3*time.Second {
		t.Fatalf("slept %v, want Retry-After's 3s first, then two backoffs", slept)
	}
	if slept[1] > time.Second*2 || slept[2] > time.Second*4 || slept[1] <= 0 || slept[2] <= 0 {
		t.Fatalf("backoffs %v exceed the exponential bounds 2s and 4s", slept[1:])
	}
}

func TestRetry_RetryAfterBeyondTheLimitIsReturnedAtOnce(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	c, err := New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	c.sleep = func(context.Context, time.Duration) error {
		t.Error("slept despite a Retry-After of an hour")
		return nil
	}
	err = c.Health(context.Background())
	e := AsError(err)
	if e == nil || e.RetryAfter < 59*time.Minute {
		t.Fatalf("err = %v (Retry-After %v)", err, e)
	}
}

func TestApprovalPatch_EncodesAMergePatch(t *testing.T) {
	t.Parallel()
	title, comment := "T", ""
	b, err := json.Marshal(ApprovalPatch{Title: &title, Comment: &comment, Clear: []string{"deadline"}})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"comment":"","deadline":null,"title":"T"}` {
		t.Fatalf("patch %s", b)
	}
	b, _ = json.Marshal(ServiceRulePatch{RotateSecret: true, Headers: map[string]string{}})
	if string(b) != `{"headers":{},"secret":null}` {
		t.Fatalf("rule patch %s", b)
	}
	b, _ = json.Marshal(ServiceRulePatch{Headers: map[string]string{"X-New": "v"}, KeepHeaders: []string{"X-Api-Key"}})
	if string(b) != `{"headers":{"X-Api-Key":{},"X-New":"v"}}` {
		t.Fatalf("rule patch keeping a header %s", b)
	}
}

func TestStatus_CodesAndSettledness(t *testing.T) {
	t.Parallel()
	for s, code := range map[Status]int{StatusError: 1, StatusPending: 2, StatusApproved: 3, StatusAcknowledgedCancelled: 8, StatusExpired: 9, "bogus": -1} {
		if s.Code() != code {
			t.Errorf("%s.Code() = %d, want %d", s, s.Code(), code)
		}
	}
	for _, s := range []Status{StatusPending, StatusAcknowledgedApproved, StatusAcknowledgedRejected} {
		if s.Settled() {
			t.Errorf("%s is settled", s)
		}
	}
	if !StatusError.Settled() || StatusError.IsFinal() {
		t.Error("error must stop a wait without being final")
	}
}
