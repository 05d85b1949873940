package access

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"
)

// discardWriter is a ResponseWriter that keeps nothing, so that a
// benchmark counts the wrapper's work and allocations, not a recorder's.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

// cpuTime is the CPU time (user and system, every thread: the garbage
// collector's work included) the process has used so far. On a shared
// machine it says more about a request's cost than the wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLog measures Log alone: a face's mux serving GET /status bare,
// then wrapped in Log with its line encoded as JSON into io.Discard (level
// info, the default) or filtered out (level warn).
func BenchmarkLog(b *testing.B) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`+"\n")
	})
	face := func(level slog.Level) Face {
		return Face{Name: "legacy", Logger: slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: level}))}
	}
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{
		{"bare", mux},
		{"log=INFO", Log(face(slog.LevelInfo), mux)},
		{"log=WARN", Log(face(slog.LevelWarn), mux)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", "/status", nil)
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				clear(w.h)
				bc.h.ServeHTTP(w, req)
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}
