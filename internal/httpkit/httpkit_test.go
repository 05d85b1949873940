package httpkit

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"approvald/approval"
	"approvald/jsonstrict"
)

// answer is what a test renderer saw.
type answer struct {
	status int
	e      *approval.Error
}

// recordTo returns a Renderer that keeps what it is handed in *got and
// writes the status.
func recordTo(got *answer) Renderer {
	return func(w http.ResponseWriter, _ *http.Request, status int, e *approval.Error) {
		*got = answer{status, e}
		w.WriteHeader(status)
	}
}

func TestMux_UnknownPathIs404AndOtherMethodIs405WithAllow(t *testing.T) {
	t.Parallel()
	var got answer
	routes := []Route[string]{
		{Method: "GET", Pattern: "/things/{id}", Handle: "get"},
		{Method: "DELETE", Pattern: "/things/{id}", Handle: "delete"},
		{Method: "POST", Pattern: "/things", Handle: "create"},
	}
	mux := Mux(routes, func(rt Route[string]) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, rt.Handle) })
	}, recordTo(&got).Fail)
	for _, tc := range []struct {
		method, path string
		status       int
		allow, body  string
		kind         approval.Kind
	}{
		{"GET", "/things/1", 200, "", "get", approval.KindNone},
		{"HEAD", "/things/1", 200, "", "get", approval.KindNone}, // the server drops the body
		{"DELETE", "/things/1", 200, "", "delete", approval.KindNone},
		{"PUT", "/things/1", 405, "GET, DELETE, HEAD", "", approval.KindMethodNotAllowed},
		{"GET", "/things", 405, "POST", "", approval.KindMethodNotAllowed},
		{"GET", "/nothing", 404, "", "", approval.KindNotFound},
		{"POST", "/things/1/more", 404, "", "", approval.KindNotFound},
	} {
		got = answer{}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.status || rec.Header().Get("Allow") != tc.allow || rec.Body.String() != tc.body {
			t.Errorf("%s %s: %d Allow %q body %q, want %d %q %q", tc.method, tc.path, rec.Code, rec.Header().Get("Allow"), rec.Body, tc.status, tc.allow, tc.body)
		}
		if approval.KindOf(errOf(got)) != tc.kind {
			t.Errorf("%s %s: renderer got %+v, want kind %d", tc.method, tc.path, got.e, tc.kind)
		}
	}
}

func errOf(a answer) error {
	if a.e == nil {
		return nil
	}
	return a.e
}

func TestRoute_ScopeOrAuditOnReadOnlyRoutes(t *testing.T) {
	t.Parallel()
	read := Route[any]{Method: "GET", Pattern: "/x", Scope: approval.ScopeRead, Audit: true}
	write := Route[any]{Method: "POST", Pattern: "/x", Scope: approval.ScopeCreate}
	anyone := Route[any]{Method: "POST", Pattern: "/y"}
	p := func(scopes ...approval.Scope) approval.Principal {
		return approval.Principal{ID: "key:test", Scopes: scopes}
	}
	for _, tc := range []struct {
		rt    Route[any]
		p     approval.Principal
		allow bool
	}{
		{read, p(approval.ScopeRead), true},
		{read, p(approval.ScopeAudit), true},
		{read, p(approval.ScopeAdmin), true},
		{read, p(approval.ScopeCreate), false},
		{write, p(approval.ScopeAudit), false},
		{write, p(approval.ScopeCreate), true},
		{anyone, p(), true},
	} {
		err := tc.rt.Check(tc.p)
		if tc.rt.Allows(tc.p) != tc.allow || (err == nil) != tc.allow {
			t.Errorf("%s %s with %v: allows %v, check %v; want %v", tc.rt.Method, tc.rt.Scope, tc.p.Scopes, tc.rt.Allows(tc.p), err, tc.allow)
		}
		if err != nil && (approval.KindOf(err) != approval.KindForbidden || approval.CodeOf(err) != approval.CodeMissingScope ||
			!strings.Contains(err.Error(), string(tc.rt.Scope)) || strings.Contains(err.Error(), "audit") != tc.rt.Audit) {
			t.Errorf("%s %s: %v, want missing_scope naming the scope (and audit when it suffices)", tc.rt.Method, tc.rt.Scope, err)
		}
	}
	if err := NeedScopes(p(approval.ScopeCreate), approval.ScopeCreate, approval.ScopeReview); approval.CodeOf(err) != approval.CodeMissingScope ||
		!strings.Contains(err.Error(), string(approval.ScopeReview)) {
		t.Errorf("NeedScopes: %v, want the review scope named", err)
	}
	if err := NeedScopes(p(approval.ScopeAdmin), approval.ScopeCreate, approval.ScopeReview); err != nil {
		t.Errorf("NeedScopes for admin: %v", err)
	}
}

func TestStatusOf_EveryKind(t *testing.T) {
	t.Parallel()
	for kind, want := range map[approval.Kind]int{
		approval.KindInternal: 500, approval.KindMalformed: 400, approval.KindInvalid: 422,
		approval.KindUnauthenticated: 401, approval.KindForbidden: 403, approval.KindNotFound: 404,
		approval.KindConflict: 409, approval.KindPrecondition: 412, approval.KindTooLarge: 413,
		approval.KindUnsupportedMedia: 415, approval.KindUnavailable: 503, approval.KindMethodNotAllowed: 405,
		approval.KindRateLimited: 429, approval.KindNone: 500, approval.Kind(200): 500,
	} {
		if got := StatusOf(kind); got != want {
			t.Errorf("StatusOf(%d) = %d, want %d", kind, got, want)
		}
	}
}

func TestFail_MapsTheKindSetsRetryAfterAndHidesInternals(t *testing.T) {
	t.Parallel()
	var got answer
	fail := recordTo(&got).Fail
	limited := approval.Errorf(approval.KindRateLimited, approval.CodeRateLimited, "slow down")
	limited.RetryAfter = 1500 * time.Millisecond
	for _, tc := range []struct {
		err        error
		status     int
		retryAfter string
		message    string
	}{
		{limited, 429, "2", "slow down"},
		{&approval.Error{Kind: approval.KindUnavailable, Code: approval.CodeUnavailable, Message: "full disk", RetryAfter: 30 * time.Second}, 503, "30", "full disk"},
		{approval.Errorf(approval.KindUnavailable, approval.CodeUnavailable, "down"), 503, "", "down"},
		{errors.New("disk on fire"), 500, "", "internal error"},
		{approval.NotFound("thing"), 404, "", "thing not found"},
	} {
		rec := httptest.NewRecorder()
		fail(rec, httptest.NewRequest("GET", "/", nil), tc.err)
		if rec.Code != tc.status || got.status != tc.status || got.e.Message != tc.message || rec.Header().Get("Retry-After") != tc.retryAfter {
			t.Errorf("%v: %d %q Retry-After %q, want %d %q %q", tc.err, got.status, got.e.Message, rec.Header().Get("Retry-After"), tc.status, tc.message, tc.retryAfter)
		}
	}
}

func TestFail_WritesNothingWhenTheClientHasGone(t *testing.T) {
	t.Parallel()
	called := false
	fail := Renderer(func(http.ResponseWriter, *http.Request, int, *approval.Error) { called = true }).Fail
	req := httptest.NewRequest("GET", "/", nil)
	ctx, cancel := context.WithCancel(req.Context())
	cancel()
	rec := httptest.NewRecorder()
	fail(rec, req.WithContext(ctx), approval.NotFound("thing"))
	if called || rec.Body.Len() != 0 {
		t.Errorf("rendered for a client that has gone")
	}
}

func TestBody_LimitsEmptinessAndContentType(t *testing.T) {
	t.Parallel()
	const limit = 100
	for _, tc := range []struct {
		name   string
		b      Body
		ct     string
		body   string
		length int64 // the announced Content-Length; -1 for none, 0 for len(body)
		kind   approval.Kind
	}{
		{"at the limit", Body{Limit: limit}, "application/json", strings.Repeat(" ", limit-2) + "{}", 0, approval.KindNone},
		{"at the limit, unannounced", Body{Limit: limit}, "application/json", strings.Repeat(" ", limit-2) + "{}", -1, approval.KindNone},
		{"over, announced", Body{Limit: limit}, "application/json", strings.Repeat(" ", limit-1) + "{}", 0, approval.KindTooLarge},
		{"over, unannounced", Body{Limit: limit}, "application/json", strings.Repeat(" ", 10*limit) + "{}", -1, approval.KindTooLarge},
		{"over, whatever its type", Body{Limit: limit}, "text/plain", strings.Repeat("a", limit+1), 0, approval.KindTooLarge},
		{"empty", Body{Limit: limit}, "application/json", "", 0, approval.KindMalformed},
		{"only space", Body{Limit: limit}, "application/json", " \n", 0, approval.KindMalformed},
		{"empty, optional", Body{Limit: limit, Optional: true}, "text/plain", " ", 0, approval.KindNone},
		{"+json", Body{Limit: limit}, "application/merge-patch+json; charset=utf-8", "{}", 0, approval.KindNone},
		{"parameters", Body{Limit: limit}, "application/json; charset=utf-8", "{}", 0, approval.KindNone},
		{"no type", Body{Limit: limit}, "", "{}", 0, approval.KindUnsupportedMedia},
		{"no type, untyped", Body{Limit: limit, Untyped: true}, "", "{}", 0, approval.KindNone},
		{"text, untyped", Body{Limit: limit, Untyped: true}, "text/plain", "{}", 0, approval.KindUnsupportedMedia},
		{"broken type", Body{Limit: limit}, "application/", "{}", 0, approval.KindUnsupportedMedia},
		{"text, any type", Body{Limit: limit, AnyType: true}, "text/plain", "{}", 0, approval.KindNone},
	} {
		req := httptest.NewRequest("POST", "/", strings.NewReader(tc.body))
		if tc.length != 0 {
			req.ContentLength = tc.length
		}
		if tc.ct != "" {
			req.Header.Set("Content-Type", tc.ct)
		}
		got, err := tc.b.Read(httptest.NewRecorder(), req)
		if approval.KindOf(err) != tc.kind {
			t.Errorf("%s: %v, want kind %d", tc.name, err, tc.kind)
			continue
		}
		if err == nil && string(got) != strings.TrimSpace(tc.body) && string(got) != tc.body {
			t.Errorf("%s: read %q", tc.name, got)
		}
		if tc.kind == approval.KindTooLarge && !strings.Contains(err.Error(), "larger than 100 bytes") {
			t.Errorf("%s: %v, want the limit named", tc.name, err)
		}
	}
}

func TestBody_AcceptsUpToTheLimitAnnouncedOrNot(t *testing.T) {
	t.Parallel()
	const limit = 100
	for _, tc := range []struct {
		size     int
		length   int64 // the announced Content-Length; -1 for none
		tooLarge bool
	}{
		{limit, limit, false}, {limit, -1, false}, {0, 0, false}, {0, -1, false},
		{limit + 1, limit + 1, true}, {limit + 1, -1, true}, {10 * limit, -1, true},
	} {
		req := httptest.NewRequest(http.MethodPost, "/", io.LimitReader(endless('a'), int64(tc.size)))
		req.ContentLength = tc.length
		got, err := Body{Limit: limit, Optional: true, AnyType: true}.Read(httptest.NewRecorder(), req)
		switch {
		case tc.tooLarge && approval.KindOf(err) != approval.KindTooLarge:
			t.Errorf("%d bytes (length %d): got %v, want 413", tc.size, tc.length, err)
		case !tc.tooLarge && (err != nil || len(got) != tc.size):
			t.Errorf("%d bytes (length %d): got %d bytes, %v; want them all", tc.size, tc.length, len(got), err)
		}
	}
}

// endless is an io.Reader of the byte c forever, without allocating it.
type endless byte

func (e endless) Read(p []byte) (int, error) {
	if len(p) > 0 {
		p[0] = byte(e)
		for n := 1; n < len(p); n *= 2 {
			copy(p[n:], p[:n])
		}
	}
	return len(p), nil
}

func TestBody_ReadsTheBodyAsSent(t *testing.T) {
	t.Parallel()
	body := " {\"a\": [1, 2]}\n"
	req := httptest.NewRequest("POST", "/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	got, err := Body{Limit: 1 << 20}.Read(httptest.NewRecorder(), req)
	if err != nil || string(got) != body {
		t.Fatalf("got %q, %v; want the body byte for byte", got, err)
	}
}

func TestReadForm_LimitAndBrokenForms(t *testing.T) {
	t.Parallel()
	post := func(body string) *http.Request {
		req := httptest.NewRequest("POST", "/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return req
	}
	req := post(url.Values{"comment": {"fine"}}.Encode())
	if err := ReadForm(httptest.NewRecorder(), req, 100); err != nil || req.PostFormValue("comment") != "fine" {
		t.Errorf("a small form: %v, comment %q", err, req.PostFormValue("comment"))
	}
	big := post(url.Values{"comment": {strings.Repeat("a", 200)}}.Encode())
	if err := ReadForm(httptest.NewRecorder(), big, 100); approval.KindOf(err) != approval.KindTooLarge {
		t.Errorf("a form over the limit: %v, want 413", err)
	}
	if err := ReadForm(httptest.NewRecorder(), post("a=%zz"), 100); approval.KindOf(err) != approval.KindMalformed {
		t.Errorf("a broken form: %v, want 400", err)
	}
}

func TestDecode_StrictnessAndFieldErrors(t *testing.T) {
	t.Parallel()
	type in struct {
		Title   string         `json:"title"`
		Count   int            `json:"count"`
		Payload map[string]any `json:"payload"`
	}
	deep := func(n int) string { return strings.Repeat(`{"a":`, n-1) + `{}` + strings.Repeat(`}`, n-1) }
	for _, tc := range []struct {
		body   string
		kind   approval.Kind
		detail string
	}{
		{`{"title":"a","count":2,"payload":{"x":1,"X":2}}`, approval.KindNone, ""},
		{`{"title":"a","Title":"b"}`, approval.KindMalformed, "differ only in letter case"},
		{`{"title":"a","title":"b"}`, approval.KindMalformed, "given more than once"},
		{`{"payload":` + deep(approval.MaxPayloadDepth+1) + `}`, approval.KindMalformed, "deep"},
		{`{"title":` + deep(approval.MaxBodyDepth+1) + `}`, approval.KindMalformed, "deep"},
		{"{\"title\":\"a\xff\"}", approval.KindMalformed, "UTF-8"},
		{`{"title":"a"} {}`, approval.KindMalformed, "more than one JSON value"},
		{`{"title":`, approval.KindMalformed, "ends too early"},
		{`{"count":"two"}`, approval.KindInvalid, "count: must be a number"},
		{`{"colour":"red"}`, approval.KindInvalid, "colour: is not a known field"},
		{`[1]`, approval.KindInvalid, "must be a JSON object"},
	} {
		var dst in
		err := Decode([]byte(tc.body), &dst, "payload")
		if approval.KindOf(err) != tc.kind || (err != nil && !strings.Contains(approval.AsError(err).Message, tc.detail)) {
			t.Errorf("%.60s: %v, want kind %d with %q", tc.body, err, tc.kind, tc.detail)
		}
	}
}

func TestCheckStrict_KeepsTheReasonAsTheCause(t *testing.T) {
	t.Parallel()
	err := CheckStrict([]byte(`{"a":1,"a":2}`), jsonstrict.Options{MaxDepth: 10})
	var se *jsonstrict.Error
	if !errors.As(err, &se) || se.Reason != jsonstrict.Duplicate || approval.KindOf(err) != approval.KindMalformed {
		t.Fatalf("%v: want a malformed error caused by a jsonstrict duplicate", err)
	}
}
