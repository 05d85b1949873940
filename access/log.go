package access

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"runtime/debug"
	"sync/atomic"
	"time"
)

type ctxKey int

const keyExchange ctxKey = iota

// exchange is the bookkeeping of one request, shared by Observe and a
// face's Log through one context value and one Recorder, so that a request
// pays for them once whatever wraps it.
type exchange struct {
	rec   Recorder
	start time.Time
	// face is set once a face's Log has taken the exchange; a second Log
	// inside it keeps books of its own.
	face      bool
	id        string
	principal string
	route     string       // the face's pattern, "unmatched" if none
	log       *slog.Logger // the face's logger
	// logger is log with the request id, made when a handler first asks
	// for it: most requests never log anything but their access line.
	logger atomic.Pointer[slog.Logger]
}

func exchangeOf(ctx context.Context) *exchange {
	x, _ := ctx.Value(keyExchange).(*exchange)
	return x
}

// begin starts the books of a request answered through w: the returned
// request carries them in its context.
func begin(w http.ResponseWriter, r *http.Request) (*exchange, *http.Request) {
	x := &exchange{start: time.Now()}
	x.rec.ResponseWriter = w
	return x, r.WithContext(context.WithValue(r.Context(), keyExchange, x))
}

var discard = slog.New(slog.DiscardHandler)

// RequestID returns the id Log gave the request of ctx, or "".
func RequestID(ctx context.Context) string {
	if x := exchangeOf(ctx); x != nil {
		return x.id
	}
	return ""
}

// Logger returns the logger of the request of ctx (carrying its request
// id), or one that discards.
func Logger(ctx context.Context) *slog.Logger {
	x := exchangeOf(ctx)
	if x == nil || x.log == nil {
		return discard
	}
	if l := x.logger.Load(); l != nil {
		return l
	}
	// A handler's goroutines may race here: one logger wins, both are alike.
	x.logger.CompareAndSwap(nil, x.log.With("request_id", x.id))
	return x.logger.Load()
}

// SetPrincipal tells the access log who the caller of the request of ctx
// is, once a handler has authenticated it.
func SetPrincipal(ctx context.Context, id string) {
	if x := exchangeOf(ctx); x != nil {
		x.principal = id
	}
}

// Observe wraps next so that every request it answers is recorded once —
// one Recorder, one context value, which a face's Log inside next fills in
// instead of adding its own — and then reported to done: the route pattern
// that matched (the face's when a Log inside next saw one, else the one
// the mux in next set on the request; "unmatched" when none did, never the
// raw path), the status (200 when nothing was written) and the time since
// the request came in. done runs even when next panics.
func Observe(next http.Handler, done func(r *http.Request, route string, status int, elapsed time.Duration)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x, r := begin(w, r)
		defer func() {
			route := x.route // the face's, unless none finished
			if route == "" {
				route = patternOr(r.Pattern)
			}
			status := x.rec.Status
			if status == 0 {
				status = http.StatusOK
			}
			done(r, route, status, time.Since(x.start))
		}()
		next.ServeHTTP(&x.rec, r)
	})
}

func patternOr(p string) string {
	if p == "" {
		return "unmatched"
	}
	return p
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
// request's context carry its trace ids when tracing is on. Directly
// under Observe, it keeps its books in Observe's.
func Log(f Face, next http.Handler) http.Handler {
	log := f.Logger
	if log == nil {
		log = discard
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x := exchangeOf(r.Context())
		if x == nil || x.face {
			x, r = begin(w, r)
			w = &x.rec
		}
		rec := &x.rec
		if w != http.ResponseWriter(rec) {
			// Behind another middleware's writer, what the face writes
			// may not be what goes out: the line says what the face wrote.
			rec = &Recorder{ResponseWriter: w}
			w = rec
		}
		x.face, x.log = true, log
		x.id = requestID(r.Header.Get("X-Request-Id"))
		w.Header()["X-Request-Id"] = []string{x.id}
		defer func() {
			ctx := r.Context()
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				Logger(ctx).ErrorContext(ctx, "panic", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if rec.Status == 0 && f.Fail != nil {
					f.Fail(w, r, fmt.Errorf("panic: %v", v))
				}
			}
			x.route = patternOr(r.Pattern) // set on r by the mux inside next
			h := log.Handler()
			if !h.Enabled(ctx, slog.LevelInfo) {
				return
			}
			method := r.Method
			if len(method) > maxLoggedMethod {
				method = method[:maxLoggedMethod]
			}
			// A record of its own, without the caller's program counter
			// (which slog's Logger methods take on every call): the access
			// line's source is always this line.
			now := time.Now()
			line := slog.NewRecord(now, slog.LevelInfo, "http request", 0)
			line.AddAttrs(slog.String("request_id", x.id),
				slog.String("face", f.Name), slog.String("method", method), slog.String("route", x.route),
				slog.Int("status", rec.Status), slog.String("principal", x.principal), slog.Int("bytes", rec.Bytes),
				slog.Float64("duration_ms", float64(now.Sub(x.start).Microseconds())/1000))
			_ = h.Handle(ctx, line)
		}()
		next.ServeHTTP(w, r)
	})
}

// requestID returns the caller's id when it is 1 to 64 letters, digits,
// dots, underscores or dashes, else a random one.
func requestID(caller string) string {
	if saneID(caller) {
		return caller
	}
	// An id only has to be unique, not secret: math/rand/v2's generator
	// (ChaCha8, seeded by the runtime from the system) is unpredictable
	// enough, at a fifth of the cost of crypto/rand (25 against 130 ns).
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	var s [24]byte
	hex.Encode(s[:], b[:12])
	return string(s[:])
}

func saneID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}
