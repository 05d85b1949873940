package access

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// logged runs one request through Log around a mux with pattern and
// returns the answer and the access log record.
func logged(t *testing.T, req *http.Request, handle http.HandlerFunc) (*httptest.ResponseRecorder, map[string]any, string) {
	t.Helper()
	var buf bytes.Buffer
	mux := http.NewServeMux()
	mux.HandleFunc("POST /things/{id}", handle)
	var failed error
	h := Log(Face{Name: "test", Logger: slog.New(slog.NewJSONHandler(&buf, nil)), Fail: func(w http.ResponseWriter, r *http.Request, err error) {
		failed = err
		http.Error(w, "internal error", http.StatusInternalServerError)
	}}, mux)
	ctx, route := WithRoute(req.Context())
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req.WithContext(ctx))
	var rec map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "http request" {
			rec = m
		}
	}
	if rec == nil {
		t.Fatalf("no access log line in %q", buf.String())
	}
	if failed != nil {
		rec["failed"] = failed.Error()
	}
	return w, rec, *route
}

func TestLog_OneLinePerRequestWithRouteAndPrincipal(t *testing.T) {
	t.Parallel()
	req := httptest.NewRequest("POST", "/things/42?secret=x", strings.NewReader("body"))
	req.Header.Set("X-Request-Id", "abc-123")
	w, rec, route := logged(t, req, func(w http.ResponseWriter, r *http.Request) {
		SetPrincipal(r.Context(), "svc:billing")
		if RequestID(r.Context()) != "abc-123" {
			t.Errorf("RequestID = %q", RequestID(r.Context()))
		}
		Logger(r.Context()).Info("inside")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte("made"))
	})
	if w.Header().Get("X-Request-Id") != "abc-123" {
		t.Errorf("X-Request-Id = %q, want the caller's", w.Header().Get("X-Request-Id"))
	}
	want := map[string]any{"face": "test", "route": "POST /things/{id}", "principal": "svc:billing", "status": float64(201), "bytes": float64(4), "request_id": "abc-123", "method": "POST"}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("log %s = %v, want %v", k, rec[k], v)
		}
	}
	if route != "POST /things/{id}" {
		t.Errorf("reported route %q", route)
	}
	for k, v := range rec {
		if s, ok := v.(string); ok && k != "time" && (strings.Contains(s, "/42") || strings.Contains(s, "secret")) {
			t.Errorf("log %s = %q holds the raw path or query", k, s)
		}
	}
}

func TestLog_BadRequestIDIsReplaced(t *testing.T) {
	t.Parallel()
	req := httptest.NewRequest("GET", "/nowhere", nil)
	req.Header.Set("X-Request-Id", "bad id\nwith a newline")
	w, rec, route := logged(t, req, func(http.ResponseWriter, *http.Request) {})
	id := w.Header().Get("X-Request-Id")
	if id == "" || strings.ContainsAny(id, " \n") || rec["request_id"] != id {
		t.Errorf("X-Request-Id %q, logged %v", id, rec["request_id"])
	}
	if rec["route"] != "unmatched" || route != "unmatched" || rec["status"] != float64(404) {
		t.Errorf("unmatched request logged as %v", rec)
	}
}

func TestLog_PanicAnswersWithTheFacesFailure(t *testing.T) {
	t.Parallel()
	w, rec, _ := logged(t, httptest.NewRequest("POST", "/things/1", nil), func(http.ResponseWriter, *http.Request) {
		panic(errors.New("boom"))
	})
	if w.Code != 500 || rec["status"] != float64(500) || rec["failed"] != "panic: boom" {
		t.Errorf("after a panic: answer %d, log %v", w.Code, rec)
	}
}

func TestLog_AMadeUpMethodIsCutShortInTheLine(t *testing.T) {
	t.Parallel()
	method := strings.Repeat("X", 1000)
	_, rec, route := logged(t, httptest.NewRequest(method, "/things/1", nil), func(http.ResponseWriter, *http.Request) {})
	if rec["method"] != method[:maxLoggedMethod] || route != "unmatched" {
		t.Errorf("logged method %v, route %q", rec["method"], route)
	}
}
