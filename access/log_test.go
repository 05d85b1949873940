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
	"time"
)

// logged runs one request through Log around a mux with pattern, under
// Observe as approvald serves it, and returns the answer, the access log
// record and the route Observe reported.
func logged(t *testing.T, req *http.Request, handle http.HandlerFunc) (*httptest.ResponseRecorder, map[string]any, string) {
	t.Helper()
	var buf bytes.Buffer
	mux := http.NewServeMux()
	mux.HandleFunc("POST /things/{id}", handle)
	var failed error
	var route string
	h := Observe(Log(Face{Name: "test", Logger: slog.New(slog.NewJSONHandler(&buf, nil)), Fail: func(w http.ResponseWriter, r *http.Request, err error) {
		failed = err
		http.Error(w, "internal error", http.StatusInternalServerError)
	}}, mux), func(_ *http.Request, r string, _ int, _ time.Duration) { route = r })
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
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
	return w, rec, route
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

func TestLog_OnItsOwnGivesTheRequestAnIDAndALine(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	mux := http.NewServeMux()
	var seen string
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		seen = RequestID(r.Context())
		Logger(r.Context()).Info("inside")
	})
	h := Log(Face{Name: "legacy", Logger: slog.New(slog.NewJSONHandler(&buf, nil))}, mux)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/status", nil))
	id := w.Header().Get("X-Request-Id")
	if len(id) != 24 || seen != id {
		t.Errorf("X-Request-Id %q, the handler saw %q", id, seen)
	}
	var lines []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 2 || lines[0]["msg"] != "inside" || lines[0]["request_id"] != id ||
		lines[1]["msg"] != "http request" || lines[1]["request_id"] != id || lines[1]["route"] != "GET /status" {
		t.Errorf("log lines %v, want the handler's then the access line, both with id %s", lines, id)
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

func TestObserve_ReportsTheMuxPatternWhenNoFaceDoes(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("/project/", func(w http.ResponseWriter, r *http.Request) {
		if RequestID(r.Context()) != "" {
			t.Error("a request id without a face")
		}
	})
	got := map[string][2]any{}
	h := Observe(mux, func(r *http.Request, route string, status int, _ time.Duration) {
		got[r.URL.Path] = [2]any{route, status}
	})
	for _, path := range []string{"/project/package", "/elsewhere/42"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", path, nil))
	}
	want := map[string][2]any{"/project/package": {"/project/", 200}, "/elsewhere/42": {"unmatched", 404}}
	for path, w := range want {
		if got[path] != w {
			t.Errorf("%s reported as %v, want %v", path, got[path], w)
		}
	}
}

// wrapped is a ResponseWriter of some other middleware.
type wrapped struct{ http.ResponseWriter }

func TestLog_UnderObserveBehindAnotherWriterKeepsItsOwnRecorder(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	mux := http.NewServeMux()
	mux.HandleFunc("GET /things/{id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	logged := Log(Face{Name: "test", Logger: slog.New(slog.NewJSONHandler(&buf, nil))}, mux)
	var route string
	var status int
	h := Observe(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logged.ServeHTTP(wrapped{w}, r)
	}), func(_ *http.Request, rt string, st int, _ time.Duration) { route, status = rt, st })
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/things/7", nil))
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["status"] != float64(http.StatusTeapot) || rec["route"] != "GET /things/{id}" {
		t.Errorf("access line %v", rec)
	}
	if status != http.StatusTeapot || route != "GET /things/{id}" {
		t.Errorf("Observe reported %q %d", route, status)
	}
}
