package access

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRecorder_StatusAndBytes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		handle func(w http.ResponseWriter)
		status int
		bytes  int
	}{
		{"nothing written", func(http.ResponseWriter) {}, 0, 0},
		{"body without a status", func(w http.ResponseWriter) { _, _ = w.Write([]byte("hello")) }, 200, 5},
		{"status then body", func(w http.ResponseWriter) { w.WriteHeader(404); _, _ = w.Write([]byte("no")) }, 404, 2},
		{"interim then final", func(w http.ResponseWriter) { w.WriteHeader(103); w.WriteHeader(201) }, 201, 0},
		{"second status ignored", func(w http.ResponseWriter) { w.WriteHeader(409); w.WriteHeader(500) }, 409, 0},
	}
	for _, tc := range tests {
		rec := &Recorder{ResponseWriter: httptest.NewRecorder()}
		tc.handle(rec)
		if rec.Status != tc.status || rec.Bytes != tc.bytes {
			t.Errorf("%s: status %d bytes %d, want %d and %d", tc.name, rec.Status, rec.Bytes, tc.status, tc.bytes)
		}
	}
}

func TestRecorder_FlushReachesTheWriter(t *testing.T) {
	t.Parallel()
	w := httptest.NewRecorder()
	if err := http.NewResponseController(&Recorder{ResponseWriter: w}).Flush(); err != nil || !w.Flushed {
		t.Errorf("Flush through the recorder: %v (flushed %v)", err, w.Flushed)
	}
}
