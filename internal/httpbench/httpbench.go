// Package httpbench is what the HTTP layer's benchmarks share: serving one
// request again and again through a handler into a writer that keeps
// nothing, reporting allocations and the CPU time per request.
package httpbench

import (
	"net/http"
	"syscall"
	"testing"
	"time"
)

// discardWriter is a ResponseWriter that keeps nothing, so that a
// benchmark counts the handler's work and allocations, not a recorder's.
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

// Serve serves req b.N times through h into one reused writer, reporting
// allocations and "cpu-ns/op".
func Serve(b *testing.B, h http.Handler, req *http.Request) {
	b.Helper()
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, req)
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
}
