package httpapi

import (
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"approvald/approval"
)

// Default limits; see Limits.
const (
	DefaultRateLimit  = 50  // requests per second per principal
	DefaultRateBurst  = 100 // requests at once per principal
	DefaultMaxStreams = 16  // open event streams and long-polls per principal
	// failedAuthRate limits failed authentications per client address, so
	// that guessing credentials (hopeless against 256-bit keys) cannot
	// also be a cheap way to load the key store.
	failedAuthRate  = 10
	failedAuthBurst = 20
	// limiterIdle is how long an unused limiter is kept.
	limiterIdle = 10 * time.Minute
	// maxLimiters bounds the memory of the limiters.
	maxLimiters = 100_000
)

// Limits are the per-principal limits of the API. Zero values take the
// defaults; a negative Rate turns rate limiting off.
type Limits struct {
	Rate       float64 // requests per second per principal
	Burst      int     // requests a principal may make at once
	MaxStreams int     // event streams and long-polls a principal may hold open
}

func (l Limits) withDefaults() Limits {
	if l.Rate == 0 {
		l.Rate = DefaultRateLimit
	}
	if l.Burst <= 0 {
		l.Burst = DefaultRateBurst
	}
	if l.MaxStreams <= 0 {
		l.MaxStreams = DefaultMaxStreams
	}
	return l
}

// limiter keeps a token bucket and a count of open streams per key (a
// principal id, or "addr:<ip>" for failed authentications).
type limiter struct {
	limits Limits
	now    func() time.Time

	mu      sync.Mutex
	entries map[string]*limitEntry
	swept   time.Time
}

type limitEntry struct {
	bucket  *rate.Limiter
	streams int
	seen    time.Time
}

func newLimiter(l Limits, now func() time.Time) *limiter {
	return &limiter{limits: l.withDefaults(), now: now, entries: map[string]*limitEntry{}}
}

// entry returns the entry of key, creating it with a bucket of r and b.
// It must be called with mu held.
func (l *limiter) entry(key string, r rate.Limit, b int, now time.Time) *limitEntry {
	if now.Sub(l.swept) > time.Minute || len(l.entries) >= maxLimiters {
		l.sweep(now)
	}
	e, ok := l.entries[key]
	if !ok {
		e = &limitEntry{bucket: rate.NewLimiter(r, b)}
		l.entries[key] = e
	}
	e.seen = now
	return e
}

// sweep forgets entries idle for limiterIdle with no open stream; if that is
// not enough it forgets every entry without one (their buckets start full again).
func (l *limiter) sweep(now time.Time) {
	l.swept = now
	for k, e := range l.entries {
		if e.streams == 0 && now.Sub(e.seen) > limiterIdle {
			delete(l.entries, k)
		}
	}
	if len(l.entries) >= maxLimiters {
		for k, e := range l.entries {
			if e.streams == 0 {
				delete(l.entries, k)
			}
		}
	}
}

// allow takes a token for key from a bucket of the given rate; when there is
// none it returns a KindRateLimited error saying when to retry.
func (l *limiter) allow(key string, r rate.Limit, b int, what string) error {
	if r < 0 {
		return nil
	}
	now := l.now()
	l.mu.Lock()
	e := l.entry(key, r, b, now)
	res := e.bucket.ReserveN(now, 1)
	l.mu.Unlock()
	if !res.OK() {
		return rateLimited(time.Second, what)
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return rateLimited(d, what)
	}
	return nil
}

// request takes a token for principal p.
func (l *limiter) request(p approval.Principal) error {
	return l.allow(p.ID, rate.Limit(l.limits.Rate), l.limits.Burst,
		"too many requests from "+p.ID+"; slow down and retry after the Retry-After delay")
}

// failedAuth takes a token of the failed-authentication bucket of addr.
func (l *limiter) failedAuth(addr string) error {
	return l.allow("addr:"+addr, failedAuthRate, failedAuthBurst,
		"too many failed authentications from this address; retry after the Retry-After delay")
}

// openStream counts an event stream or long-poll of p; release ends it.
func (l *limiter) openStream(p approval.Principal) (release func(), err error) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entry(p.ID, rate.Limit(l.limits.Rate), l.limits.Burst, now)
	if e.streams >= l.limits.MaxStreams {
		return nil, rateLimited(5*time.Second, "too many open event streams and long-polls for "+p.ID+
			"; close one (at most "+strconv.Itoa(l.limits.MaxStreams)+")")
	}
	e.streams++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			e.streams--
			e.seen = l.now()
			l.mu.Unlock()
		})
	}, nil
}

func rateLimited(after time.Duration, msg string) error {
	e := approval.Errorf(approval.KindRateLimited, approval.CodeRateLimited, "%s", msg)
	e.RetryAfter = max(after, time.Second)
	return e
}
