package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The header names of the Standard Webhooks specification. http.Header
// canonicalises them on Set and Get, so their case does not matter on the
// wire.
const (
	// HeaderID names the header that carries the message id, which stays
	// the same across retries of one message.
	HeaderID = "webhook-id"
	// HeaderTimestamp names the header that carries the send time in unix
	// seconds.
	HeaderTimestamp = "webhook-timestamp"
	// HeaderSignature names the header that carries the space-separated
	// signatures.
	HeaderSignature = "webhook-signature"
)

const (
	secretPrefix = "whsec_"
	version      = "v1"
	// tolerance bounds the clock skew between sender and receiver, and so
	// how long a captured request can be replayed.
	tolerance = 5 * time.Minute
	// maxBody caps what Middleware reads: approvald's events are a few KiB.
	maxBody = 1 << 20
)

// Errors returned by [Verifier.Verify] and [Verifier.VerifyAt], wrapped with
// detail; test for them with errors.Is.
var (
	// ErrMissingHeaders reports that a required webhook header is absent
	// or empty.
	ErrMissingHeaders = errors.New("webhook: missing required headers")
	// ErrTimestamp reports a webhook-timestamp that is not an integer or
	// lies more than 5 minutes from the receiver's clock.
	ErrTimestamp = errors.New("webhook: invalid timestamp")
	// ErrSignature reports that no v1 signature matches the message.
	ErrSignature = errors.New("webhook: no matching signature")
)

// decodeSecret returns the key bytes of a "whsec_<base64>" secret. The
// reference libraries also accept the bare base64, and so does this.
func decodeSecret(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, secretPrefix))
	if err != nil {
		// The secret itself is never put into the error, which may be logged.
		return nil, fmt.Errorf("webhook: secret is not whsec_ followed by base64: %w", err)
	}
	if len(key) == 0 {
		return nil, errors.New("webhook: secret is empty")
	}
	return key, nil
}

// sign returns the base64 HMAC of the message under key, without the version.
func sign(key []byte, msgID string, unix int64, body []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(msgID))
	mac.Write([]byte{'.'})
	mac.Write(strconv.AppendInt(nil, unix, 10))
	mac.Write([]byte{'.'})
	mac.Write(body)
	sum := mac.Sum(nil)
	out := make([]byte, base64.StdEncoding.EncodedLen(len(sum)))
	base64.StdEncoding.Encode(out, sum)
	return out
}

// Sign returns the webhook-signature value, "v1,<base64 HMAC-SHA256>", of
// body sent as message msgID at ts (truncated to whole seconds) under secret,
// which is "whsec_" followed by the base64 key (the bare base64 is accepted
// too). It returns an error, and no signature, if the secret is not valid
// base64 or is empty, or if msgID is empty.
func Sign(secret, msgID string, ts time.Time, body []byte) (string, error) {
	key, err := decodeSecret(secret)
	if err != nil {
		return "", err
	}
	if msgID == "" {
		// Receivers reject a message without an id, so refuse to make one.
		return "", errors.New("webhook: message id is empty")
	}
	return version + "," + string(sign(key, msgID, ts.Unix(), body)), nil
}

// SetHeaders sets the webhook-id, webhook-timestamp and webhook-signature
// headers of h for body sent as message msgID at ts, replacing any values
// they had. It returns Sign's error, and leaves h unchanged, if the secret or
// msgID is invalid.
func SetHeaders(h http.Header, secret, msgID string, ts time.Time, body []byte) error {
	sig, err := Sign(secret, msgID, ts, body)
	if err != nil {
		return err
	}
	h.Set(HeaderID, msgID)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, sig)
	return nil
}

// Verifier checks webhooks signed with one endpoint secret. Make it with
// [NewVerifier]; it is safe for concurrent use.
type Verifier struct {
	key       []byte
	tolerance time.Duration
}

// NewVerifier returns a Verifier for secret, which is "whsec_" followed by
// the base64 key (the bare base64 is accepted too). It returns an error, and
// a nil Verifier, if the secret is not valid base64 or is empty.
func NewVerifier(secret string) (*Verifier, error) {
	key, err := decodeSecret(secret)
	if err != nil {
		return nil, err
	}
	return &Verifier{key: key, tolerance: tolerance}, nil
}

// Verify checks that h and body form a webhook signed with v's secret and
// sent within 5 minutes of now. It returns nil if so, and otherwise an error
// wrapping ErrMissingHeaders, ErrTimestamp or ErrSignature. body must be the
// exact bytes received.
func (v *Verifier) Verify(h http.Header, body []byte) error {
	return v.VerifyAt(h, body, time.Now())
}

// VerifyAt is Verify with the receiver's clock reading now, for tests and for
// re-checking a stored message. It returns nil if h carries a v1 signature of
// body under v's secret and a timestamp within 5 minutes of now. Otherwise it
// returns an error wrapping ErrMissingHeaders if a header is absent,
// ErrTimestamp if the timestamp is malformed, too old or too new, and
// ErrSignature if no signature matches (signatures of versions other than v1
// are ignored).
func (v *Verifier) VerifyAt(h http.Header, body []byte, now time.Time) error {
	id, tsText := h.Get(HeaderID), h.Get(HeaderTimestamp)
	// A proxy may have split a list header into several lines: take them all.
	sigs := strings.Fields(strings.Join(h.Values(HeaderSignature), " "))
	var missing []string
	if id == "" {
		missing = append(missing, HeaderID)
	}
	if tsText == "" {
		missing = append(missing, HeaderTimestamp)
	}
	if len(sigs) == 0 {
		missing = append(missing, HeaderSignature)
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s", ErrMissingHeaders, strings.Join(missing, ", "))
	}

	unix, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s is not an integer number of seconds", ErrTimestamp, HeaderTimestamp)
	}
	sent := time.Unix(unix, 0)
	if age := now.Sub(sent); age > v.tolerance {
		return fmt.Errorf("%w: message is %s old, more than %s", ErrTimestamp, age.Truncate(time.Second), v.tolerance)
	} else if -age > v.tolerance {
		return fmt.Errorf("%w: message is %s in the future, more than %s", ErrTimestamp, (-age).Truncate(time.Second), v.tolerance)
	}

	if len(v.key) == 0 {
		// A zero Verifier would accept HMACs under the empty key.
		return fmt.Errorf("%w: Verifier was not made by NewVerifier", ErrSignature)
	}
	want := sign(v.key, id, unix, body)
	tried := 0
	for _, s := range sigs {
		ver, sig, ok := strings.Cut(s, ",")
		if !ok || ver != version {
			continue
		}
		tried++
		// Comparing the base64 text, not decoded bytes, accepts only the
		// canonical encoding; hmac.Equal takes the same time wherever the
		// first difference is.
		if hmac.Equal([]byte(sig), want) {
			return nil
		}
	}
	return fmt.Errorf("%w: none of %d %s signatures matches", ErrSignature, tried, version)
}

// Middleware returns a handler that reads the request body (at most 1 MiB),
// verifies the request with v, and passes it on to next with the body
// restored, so next reads it as usual. It answers 413 Request Entity Too
// Large to a larger body, 400 Bad Request if the body cannot be read, and
// 401 Unauthorized if verification fails, without calling next and without
// saying why to the sender. It panics if v is nil.
func Middleware(v *Verifier, next http.Handler) http.Handler {
	if v == nil {
		panic("webhook: Middleware called with a nil Verifier")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > maxBody {
			http.Error(w, http.StatusText(http.StatusRequestEntityTooLarge), http.StatusRequestEntityTooLarge)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				http.Error(w, http.StatusText(http.StatusRequestEntityTooLarge), http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, http.StatusText(http.StatusBadRequest), http.StatusBadRequest)
			return
		}
		if err := v.Verify(r.Header, body); err != nil {
			http.Error(w, http.StatusText(http.StatusUnauthorized), http.StatusUnauthorized)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}

// Event is the JSON body approvald sends:
// {"type","id","timestamp","data"}, where data is the approval request as the
// API returns it.
type Event struct {
	// Type is the event type, such as "approval.decided".
	Type string `json:"type"`
	// ID identifies the event; it equals the webhook-id header and stays the
	// same across retries, so receivers can drop duplicates by it.
	ID string `json:"id"`
	// Timestamp is when the event happened, which may be well before a
	// retried delivery was sent.
	Timestamp time.Time `json:"timestamp"`
	// Data is the approval request, left undecoded so receivers can decode
	// it into their own type.
	Data json.RawMessage `json:"data"`
}

// ParseEvent decodes body as an Event. It returns an error, and the zero
// Event, if body is not a JSON object of that shape or has no type. It does
// not verify anything: call it after [Verifier.Verify] or inside
// [Middleware].
func ParseEvent(body []byte) (Event, error) {
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil {
		return Event{}, fmt.Errorf("webhook: decoding event: %w", err)
	}
	if ev.Type == "" {
		return Event{}, errors.New("webhook: event has no type")
	}
	return ev, nil
}
