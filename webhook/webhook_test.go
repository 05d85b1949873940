package webhook_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"approvald/webhook"
)

// The fixed vector of the Standard Webhooks reference libraries' tests
// (libraries/go/webhook_test.go, TestWebhookSign; the Python tests use the
// same one).
const (
	refSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	refMsgID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	refTimestamp = 1614265330
	refPayload   = `{"test": 2432232314}`
	refSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

// fixture is one signed message and a Verifier for its secret.
type fixture struct {
	v      *webhook.Verifier
	h      http.Header
	body   []byte
	sentAt time.Time
}

func setup(t *testing.T) fixture {
	t.Helper()
	v, err := webhook.NewVerifier(refSecret)
	if err != nil {
		t.Fatal(err)
	}
	f := fixture{
		v:      v,
		h:      http.Header{},
		body:   []byte(`{"type":"approval.decided","id":"msg_1","timestamp":"2026-01-02T03:04:05Z","data":{"id":"req_1","status":"approved"}}`),
		sentAt: time.Unix(1_767_000_000, 0),
	}
	if err := webhook.SetHeaders(f.h, refSecret, "msg_1", f.sentAt, f.body); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestSign_MatchesReferenceTestVector(t *testing.T) {
	t.Parallel()
	got, err := webhook.Sign(refSecret, refMsgID, time.Unix(refTimestamp, 0), []byte(refPayload))
	if err != nil {
		t.Fatal(err)
	}
	if got != refSignature {
		t.Errorf("Sign = %q, want %q", got, refSignature)
	}
}

func TestSign_AcceptsBareBase64Secret(t *testing.T) {
	t.Parallel()
	got, err := webhook.Sign(strings.TrimPrefix(refSecret, "whsec_"), refMsgID, time.Unix(refTimestamp, 0), []byte(refPayload))
	if err != nil {
		t.Fatal(err)
	}
	if got != refSignature {
		t.Errorf("Sign = %q, want %q", got, refSignature)
	}
}

func TestSign_RejectsInvalidSecretsAndEmptyID(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct{ secret, id string }{
		"not base64":   {"whsec_not*base64!", "msg_1"},
		"empty":        {"", "msg_1"},
		"prefix only":  {"whsec_", "msg_1"},
		"empty msg id": {refSecret, ""},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if sig, err := webhook.Sign(tc.secret, tc.id, time.Now(), nil); err == nil {
				t.Errorf("Sign = %q, nil; want an error", sig)
			}
			h := http.Header{}
			if err := webhook.SetHeaders(h, tc.secret, tc.id, time.Now(), nil); err == nil || len(h) != 0 {
				t.Errorf("SetHeaders = %v with headers %v; want an error and no headers", err, h)
			}
			if tc.id != "" {
				if v, err := webhook.NewVerifier(tc.secret); err == nil || v != nil {
					t.Errorf("NewVerifier = %v, %v; want nil and an error", v, err)
				}
			}
		})
	}
}

func TestSign_ErrorDoesNotContainSecret(t *testing.T) {
	t.Parallel()
	const secret = "whsec_s3cr3t-value*"
	_, err := webhook.Sign(secret, "msg_1", time.Now(), nil)
	if err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("Sign error = %v; want an error that does not show the secret", err)
	}
}

func TestSetHeaders_SetsAllThree(t *testing.T) {
	t.Parallel()
	f := setup(t)
	if got := f.h.Get(webhook.HeaderID); got != "msg_1" {
		t.Errorf("%s = %q, want msg_1", webhook.HeaderID, got)
	}
	if got, want := f.h.Get(webhook.HeaderTimestamp), strconv.FormatInt(f.sentAt.Unix(), 10); got != want {
		t.Errorf("%s = %q, want %q", webhook.HeaderTimestamp, got, want)
	}
	want, _ := webhook.Sign(refSecret, "msg_1", f.sentAt, f.body)
	if got := f.h.Get(webhook.HeaderSignature); got != want {
		t.Errorf("%s = %q, want %q", webhook.HeaderSignature, got, want)
	}
}

func TestVerify_AcceptsWhatSignProduced(t *testing.T) {
	t.Parallel()
	f := setup(t)
	if err := f.v.VerifyAt(f.h, f.body, f.sentAt); err != nil {
		t.Fatalf("VerifyAt = %v, want nil", err)
	}
	// Verify uses the real clock.
	h := http.Header{}
	if err := webhook.SetHeaders(h, refSecret, "msg_now", time.Now(), f.body); err != nil {
		t.Fatal(err)
	}
	if err := f.v.Verify(h, f.body); err != nil {
		t.Fatalf("Verify = %v, want nil", err)
	}
}

func TestVerify_RejectsTamperingWithErrSignature(t *testing.T) {
	t.Parallel()
	for name, tamper := range map[string]func(t *testing.T, f *fixture){
		"body": func(_ *testing.T, f *fixture) {
			f.body = bytes.Replace(f.body, []byte("approved"), []byte("rejected"), 1)
		},
		"body tail": func(_ *testing.T, f *fixture) { f.body = append(f.body, ' ') },
		"id":        func(_ *testing.T, f *fixture) { f.h.Set(webhook.HeaderID, "msg_2") },
		"timestamp": func(_ *testing.T, f *fixture) {
			f.h.Set(webhook.HeaderTimestamp, strconv.FormatInt(f.sentAt.Unix()+1, 10))
		},
		"signature": func(_ *testing.T, f *fixture) {
			sig := []byte(f.h.Get(webhook.HeaderSignature))
			sig[5] ^= 1
			f.h.Set(webhook.HeaderSignature, string(sig))
		},
		"empty v1": func(_ *testing.T, f *fixture) { f.h.Set(webhook.HeaderSignature, "v1,") },
		"no version": func(_ *testing.T, f *fixture) {
			f.h.Set(webhook.HeaderSignature, strings.TrimPrefix(f.h.Get(webhook.HeaderSignature), "v1,"))
		},
		"other version": func(_ *testing.T, f *fixture) {
			f.h.Set(webhook.HeaderSignature, "v2,"+strings.TrimPrefix(f.h.Get(webhook.HeaderSignature), "v1,"))
		},
		"wrong secret": func(t *testing.T, f *fixture) {
			v, err := webhook.NewVerifier("whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=")
			if err != nil {
				t.Fatal(err)
			}
			f.v = v
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			tamper(t, &f)
			if err := f.v.VerifyAt(f.h, f.body, f.sentAt); !errors.Is(err, webhook.ErrSignature) {
				t.Errorf("VerifyAt = %v, want ErrSignature", err)
			}
		})
	}
}

func TestVerify_RejectsTimestampsOutsideFiveMinutes(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		offset time.Duration // now minus the send time
		ok     bool
	}{
		"just sent":             {0, true},
		"5 minutes old":         {5 * time.Minute, true},
		"5 minutes early":       {-5 * time.Minute, true},
		"5 minutes 1s old":      {5*time.Minute + time.Second, false},
		"5 minutes 1s early":    {-5*time.Minute - time.Second, false},
		"a day old (replayed)":  {24 * time.Hour, false},
		"an hour in the future": {-time.Hour, false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			err := f.v.VerifyAt(f.h, f.body, f.sentAt.Add(tc.offset))
			if tc.ok && err != nil {
				t.Errorf("VerifyAt = %v, want nil", err)
			}
			if !tc.ok && !errors.Is(err, webhook.ErrTimestamp) {
				t.Errorf("VerifyAt = %v, want ErrTimestamp", err)
			}
		})
	}
}

func TestVerify_RejectsMalformedTimestampWithErrTimestamp(t *testing.T) {
	t.Parallel()
	for _, ts := range []string{"soon", "1.5", "2026-01-02T03:04:05Z", "99999999999999999999"} {
		f := setup(t)
		f.h.Set(webhook.HeaderTimestamp, ts)
		if err := f.v.VerifyAt(f.h, f.body, f.sentAt); !errors.Is(err, webhook.ErrTimestamp) {
			t.Errorf("timestamp %q: VerifyAt = %v, want ErrTimestamp", ts, err)
		}
	}
}

func TestVerify_RejectsMissingHeaders(t *testing.T) {
	t.Parallel()
	for _, name := range []string{webhook.HeaderID, webhook.HeaderTimestamp, webhook.HeaderSignature} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			f.h.Del(name)
			err := f.v.VerifyAt(f.h, f.body, f.sentAt)
			if !errors.Is(err, webhook.ErrMissingHeaders) {
				t.Fatalf("VerifyAt = %v, want ErrMissingHeaders", err)
			}
			if !strings.Contains(err.Error(), name) {
				t.Errorf("error %q does not name the missing header %s", err, name)
			}
			f.h.Set(name, "")
			if err := f.v.VerifyAt(f.h, f.body, f.sentAt); !errors.Is(err, webhook.ErrMissingHeaders) {
				t.Errorf("empty %s: VerifyAt = %v, want ErrMissingHeaders", name, err)
			}
		})
	}
}

func TestVerify_AcceptsAnyMatchingSignatureOfSeveral(t *testing.T) {
	t.Parallel()
	other, err := webhook.Sign("whsec_QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=", "msg_1", time.Unix(1_767_000_000, 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, list := range map[string]func(good string) []string{
		"first":                   func(g string) []string { return []string{g, other} },
		"last":                    func(g string) []string { return []string{"v1a,xyz", other, "v2,abc", g} },
		"after a future version":  func(g string) []string { return []string{"v1a," + strings.TrimPrefix(g, "v1,"), g} },
		"among asymmetric ones":   func(g string) []string { return []string{"v1a,aGVsbG8=", g} },
		"on a second header line": nil,
		"separated by two spaces": func(g string) []string { return []string{other + " ", g} },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			good := f.h.Get(webhook.HeaderSignature)
			if list == nil {
				f.h.Set(webhook.HeaderSignature, other)
				f.h.Add(webhook.HeaderSignature, good)
			} else {
				f.h.Set(webhook.HeaderSignature, strings.Join(list(good), " "))
			}
			if err := f.v.VerifyAt(f.h, f.body, f.sentAt); err != nil {
				t.Errorf("VerifyAt with %q = %v, want nil", f.h.Values(webhook.HeaderSignature), err)
			}
		})
	}
}

func TestVerify_ZeroVerifierAcceptsNothing(t *testing.T) {
	t.Parallel()
	// A zero Verifier has the empty key; it must not accept anything, even
	// a message correctly signed with some other key.
	f := setup(t)
	var zero webhook.Verifier
	if err := zero.VerifyAt(f.h, f.body, f.sentAt); !errors.Is(err, webhook.ErrSignature) {
		t.Errorf("zero Verifier: VerifyAt = %v, want ErrSignature", err)
	}
}

// TestInterop_ReferenceLibrary round-trips signatures with the Go library of
// the Standard Webhooks project in both directions.
func TestInterop_ReferenceLibrary(t *testing.T) {
	t.Parallel()
	ref, err := standardwebhooks.NewWebhook(refSecret)
	if err != nil {
		t.Fatal(err)
	}
	ours, err := webhook.NewVerifier(refSecret)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"type":"approval.decided","id":"msg_2Yx","timestamp":"2026-01-02T03:04:05Z","data":{"id":"req_1","status":"approved","note":"ünïcødé ✓"}}`)
	sentAt := time.Now()

	t.Run("ours signs, reference verifies", func(t *testing.T) {
		t.Parallel()
		h := http.Header{}
		if err := webhook.SetHeaders(h, refSecret, "msg_2Yx", sentAt, body); err != nil {
			t.Fatal(err)
		}
		if err := ref.Verify(body, h); err != nil {
			t.Errorf("reference Verify = %v, want nil", err)
		}
		if err := ref.Verify(append(body[:len(body):len(body)], '\n'), h); err == nil {
			t.Error("reference Verify accepted a tampered body")
		}
	})

	t.Run("reference signs, ours verifies", func(t *testing.T) {
		t.Parallel()
		sig, err := ref.Sign("msg_2Yx", sentAt, body)
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		h.Set(standardwebhooks.HeaderWebhookID, "msg_2Yx")
		h.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(sentAt.Unix(), 10))
		h.Set(standardwebhooks.HeaderWebhookSignature, sig)
		if err := ours.Verify(h, body); err != nil {
			t.Errorf("Verify = %v, want nil", err)
		}
		ours2, _ := webhook.Sign(refSecret, "msg_2Yx", sentAt, body)
		if sig != ours2 {
			t.Errorf("reference Sign = %q, ours = %q", sig, ours2)
		}
	})

	t.Run("reference test vector", func(t *testing.T) {
		t.Parallel()
		sig, err := ref.Sign(refMsgID, time.Unix(refTimestamp, 0), []byte(refPayload))
		if err != nil || sig != refSignature {
			t.Fatalf("reference Sign = %q, %v; want %q", sig, err, refSignature)
		}
		h := http.Header{}
		h.Set(webhook.HeaderID, refMsgID)
		h.Set(webhook.HeaderTimestamp, strconv.Itoa(refTimestamp))
		h.Set(webhook.HeaderSignature, sig)
		if err := ours.VerifyAt(h, []byte(refPayload), time.Unix(refTimestamp, 0)); err != nil {
			t.Errorf("VerifyAt = %v, want nil", err)
		}
	})
}

func TestMiddleware(t *testing.T) {
	t.Parallel()
	v, err := webhook.NewVerifier(refSecret)
	if err != nil {
		t.Fatal(err)
	}
	signed := func(body []byte) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/hook", bytes.NewReader(body))
		if err := webhook.SetHeaders(r.Header, refSecret, "msg_mw", time.Now(), body); err != nil {
			t.Fatal(err)
		}
		return r
	}
	body := []byte(`{"type":"approval.decided","id":"msg_mw","timestamp":"2026-01-02T03:04:05Z","data":{}}`)
	big := bytes.Repeat([]byte("x"), 1<<20+1)

	for name, tc := range map[string]struct {
		req       func() *http.Request
		status    int
		nextCalls int
	}{
		"valid":         {func() *http.Request { return signed(body) }, http.StatusOK, 1},
		"exactly 1 MiB": {func() *http.Request { return signed(big[:1<<20]) }, http.StatusOK, 1},
		"unsigned":      {func() *http.Request { return httptest.NewRequest(http.MethodPost, "/hook", bytes.NewReader(body)) }, http.StatusUnauthorized, 0},
		"tampered body": {func() *http.Request {
			r := signed(body)
			r.Body = io.NopCloser(strings.NewReader(`{"type":"approval.decided","data":{"forged":true}}`))
			r.ContentLength = -1
			return r
		}, http.StatusUnauthorized, 0},
		"too large": {func() *http.Request { return signed(big) }, http.StatusRequestEntityTooLarge, 0},
		"too large, no length": {func() *http.Request {
			r := signed(big)
			r.Body = io.NopCloser(bytes.NewReader(big)) // hide the length
			r.ContentLength = -1
			return r
		}, http.StatusRequestEntityTooLarge, 0},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			req := tc.req()
			var want []byte
			if tc.nextCalls > 0 {
				want, _ = io.ReadAll(req.Body)
				req.Body = io.NopCloser(bytes.NewReader(want))
			}
			calls := 0
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls++
				got, err := io.ReadAll(r.Body)
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("next read %d bytes, %v; want the %d bytes sent", len(got), err, len(want))
				}
				if r.ContentLength != int64(len(want)) {
					t.Errorf("next saw ContentLength %d, want %d", r.ContentLength, len(want))
				}
				w.WriteHeader(http.StatusOK)
			})
			rec := httptest.NewRecorder()
			webhook.Middleware(v, next).ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Errorf("status = %d, want %d", rec.Code, tc.status)
			}
			if calls != tc.nextCalls {
				t.Errorf("next called %d times, want %d", calls, tc.nextCalls)
			}
		})
	}
}

func TestMiddleware_OverRealServer(t *testing.T) {
	t.Parallel()
	v, err := webhook.NewVerifier(refSecret)
	if err != nil {
		t.Fatal(err)
	}
	var got webhook.Event
	srv := httptest.NewServer(webhook.Middleware(v, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ev, err := webhook.ParseEvent(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got = ev
		w.WriteHeader(http.StatusNoContent)
	})))
	defer srv.Close()

	body := []byte(`{"type":"approval.decided","id":"msg_srv","timestamp":"2026-01-02T03:04:05Z","data":{"id":"req_9"}}`)
	post := func(sign bool) int {
		req, err := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if sign {
			if err := webhook.SetHeaders(req.Header, refSecret, "msg_srv", time.Now(), body); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(false); code != http.StatusUnauthorized {
		t.Errorf("unsigned: status %d, want 401", code)
	}
	if code := post(true); code != http.StatusNoContent {
		t.Fatalf("signed: status %d, want 204", code)
	}
	if got.ID != "msg_srv" || string(got.Data) != `{"id":"req_9"}` {
		t.Errorf("handler got %+v", got)
	}
}

func TestMiddleware_PanicsOnNilVerifier(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Error("Middleware(nil, …) did not panic")
		}
	}()
	webhook.Middleware(nil, http.NotFoundHandler())
}

func TestParseEvent(t *testing.T) {
	t.Parallel()
	ev, err := webhook.ParseEvent([]byte(`{"type":"approval.decided","id":"msg_1","timestamp":"2026-01-02T03:04:05Z","data":{"id":"req_1","status":"approved"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type != "approval.decided" || ev.ID != "msg_1" ||
		!ev.Timestamp.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) ||
		string(ev.Data) != `{"id":"req_1","status":"approved"}` {
		t.Errorf("ParseEvent = %+v", ev)
	}
}

func TestParseEvent_RejectsMalformedBodies(t *testing.T) {
	t.Parallel()
	for _, body := range []string{``, `null`, `[]`, `{}`, `{"type":""}`, `{"type":1}`, `{"type":"x","timestamp":"yesterday"}`, `{"type":"x"`} {
		if ev, err := webhook.ParseEvent([]byte(body)); err == nil {
			t.Errorf("ParseEvent(%q) = %+v, nil; want an error", body, ev)
		}
	}
}
