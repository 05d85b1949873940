// Package access records what an HTTP handler answered — its status and
// how many body bytes — for the access logs and metrics of approvald's
// HTTP faces (the native API, the legacy API, the web UI). Observe keeps
// those books once per request for the metrics around every face; a
// face's Log inside it fills them in (request id, principal, route) and
// writes the access line, without books of its own.
package access

import "net/http"

// Recorder is an http.ResponseWriter that remembers the status and the
// body size a handler wrote. Wrap the writer before calling the handler:
// rec := &access.Recorder{ResponseWriter: w}.
type Recorder struct {
	http.ResponseWriter
	// Status is the first final status written: 200 once the body starts
	// without one; 0 while nothing is written. Interim (1xx) answers do
	// not count.
	Status int
	// Bytes counts the body bytes written.
	Bytes int
}

// WriteHeader records the status and writes it.
func (r *Recorder) WriteHeader(code int) {
	if r.Status == 0 && code >= 200 {
		r.Status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

// Write records a 200 if no status was written, then writes b.
func (r *Recorder) Write(b []byte) (int, error) {
	if r.Status == 0 {
		r.Status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.Bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer (to
// flush an event stream, to extend a long-poll's write deadline).
func (r *Recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
