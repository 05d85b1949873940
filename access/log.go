package access

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"time"
)

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyLogger
	keyPrincipal
	keyRoute
)

// requestIDPattern is what a caller's X-Request-Id must look like to be
// kept; anything else is replaced by a generated id.
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// RequestID returns the id Log gave the request of ctx, or "".
func RequestID(ctx context.Context) string {
	s, _ := ctx.Value(keyRequestID).(string)
	return s
}

// Logger returns the logger of the request of ctx (carrying its request
// id), or one that discards.
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(keyLogger).(*slog.Logger); ok {
		return l
	}
	return slog.New(slog.DiscardHandler)
}

// SetPrincipal tells the access log who the caller of the request of ctx
// is, once a handler has authenticated it.
func SetPrincipal(ctx context.Context, id string) {
	if p, ok := ctx.Value(keyPrincipal).(*string); ok {
		*p = id
	}
}

// WithRoute returns a context in which Log will report the route pattern
// it logs, and where to read it after the request (metrics label requests
// by it).
func WithRoute(ctx context.Context) (context.Context, *string) {
	route := new(string)
	return context.WithValue(ctx, keyRoute, route), route
}

// Face describes one of approvald's HTTP faces for Log.
type Face struct {
	// Name is logged as "face" on every line (api, legacy, ui).
	Name string
	// Logger gets one line per request; nil discards.
	Logger *slog.Logger
	// Fail writes the face's answer to a handler that panicked, when
	// nothing was written yet.
	Fail func(w http.ResponseWriter, r *http.Request, err error)
}

// maxLoggedMethod bounds the method logged: the server takes any token up
// to the header limit as a method.
const maxLoggedMethod = 32

// Log gives every request an id (the caller's X-Request-Id when it is
// sane, else a random one; returned in X-Request-Id), a logger carrying it,
// panic recovery, and one access log line with the route pattern that
// matched (never the raw path), the principal, the status, the bytes and
// the duration — never a credential or a body. Records logged with the
// request's context carry its trace ids when tracing is on.
func Log(f Face, next http.Handler) http.Handler {
	log := f.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !requestIDPattern.MatchString(id) {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		l := log.With("request_id", id)
		var principal string
		ctx := context.WithValue(context.WithValue(r.Context(), keyRequestID, id), keyLogger, l)
		ctx = context.WithValue(ctx, keyPrincipal, &principal)
		r = r.WithContext(ctx)
		rec := &Recorder{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				l.ErrorContext(ctx, "panic", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if rec.Status == 0 && f.Fail != nil {
					f.Fail(rec, r, fmt.Errorf("panic: %v", v))
				}
			}
			route := r.Pattern // set on r by the mux inside next
			if route == "" {
				route = "unmatched"
			}
			if p, ok := ctx.Value(keyRoute).(*string); ok {
				*p = route
			}
			method := r.Method
			if len(method) > maxLoggedMethod {
				method = method[:maxLoggedMethod]
			}
			l.InfoContext(ctx, "http request", "face", f.Name, "method", method, "route", route, "status", rec.Status,
				"principal", principal, "bytes", rec.Bytes, "duration_ms", float64(time.Since(start).Microseconds())/1000)
		}()
		next.ServeHTTP(rec, r)
	})
}
