package access

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"approvald/internal/httpbench"
)

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
			httpbench.Serve(b, bc.h, req)
		})
	}
}
