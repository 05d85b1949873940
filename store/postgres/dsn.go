package postgres

import (
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// masked replaces a secret in a redacted connection string.
const masked = "xxxxx"

// secretParams are the connection parameters whose values RedactDSN hides:
// the password, the TLS key's password, and the TLS key (a file name in pgx,
// but libpq-style tools also take the key itself).
var secretParams = []string{"password", "sslpassword", "sslkey"}

// RedactDSN returns the connection string conn with every secret replaced
// by "xxxxx", for logs and error messages. It takes both forms pgx takes:
// a URL (scheme://user:password@host/db?password=…&sslpassword=…&sslkey=…),
// whose userinfo password and secret query parameters are hidden, and
// keyword/value pairs (host=h password=secret or password='a \' b'), whose
// secret values, quoted or not, are hidden. Malformed input is redacted
// generously: when in doubt, more is hidden. It never fails.
func RedactDSN(conn string) string {
	spans := secretSpans(conn)
	for i := len(spans) - 1; i >= 0; i-- { // from the end, so that the spans before stay put
		conn = conn[:spans[i][0]] + masked + conn[spans[i][1]:]
	}
	return conn
}

// secretSpans returns the byte ranges [start, end) of conn's secrets,
// sorted and without overlaps.
func secretSpans(conn string) [][2]int {
	var spans [][2]int
	if isURL(conn) {
		spans = urlSpans(conn)
	} else {
		spans = keywordSpans(conn)
	}
	slices.SortFunc(spans, func(a, b [2]int) int { return a[0] - b[0] })
	var out [][2]int
	for _, s := range spans {
		if s[1] <= s[0] {
			continue
		}
		if n := len(out); n > 0 && s[0] <= out[n-1][1] {
			out[n-1][1] = max(out[n-1][1], s[1])
			continue
		}
		out = append(out, s)
	}
	return out
}

// isURL reports whether conn starts with a URL scheme and "://".
var isURL = regexp.MustCompile(`^[a-zA-Z0-9+.-]+://`).MatchString

// urlSpans finds the secrets of a URL: the password of its userinfo and the
// values of secret query parameters.
func urlSpans(conn string) [][2]int {
	start := strings.Index(conn, "://") + len("://")
	rest := conn[start:]
	var spans [][2]int
	// The userinfo ends at the last '@' of the authority (as url.Parse and
	// so pgx read it). A URL that does not parse may hold an unescaped '/',
	// '?' or '#' in its password: then the last '@' anywhere ends it.
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	at := strings.LastIndex(authority, "@")
	if _, err := url.Parse(conn); err != nil && at < 0 {
		at = strings.LastIndex(rest, "@")
	}
	if at >= 0 {
		if colon := strings.IndexByte(rest[:at], ':'); colon >= 0 {
			spans = append(spans, [2]int{start + colon + 1, start + at})
		}
	}
	// Parameters: every name=value between '?' or '&' separators, wherever
	// it is, so that a '?' or '@' in the wrong place hides nothing.
	for i := 0; i < len(rest); {
		j := strings.IndexAny(rest[i:], "?&")
		if j < 0 {
			break
		}
		from := i + j + 1
		end := len(rest)
		if k := strings.IndexAny(rest[from:], "&#"); k >= 0 {
			end = from + k
		}
		if name, _, ok := strings.Cut(rest[from:end], "="); ok && isSecretParam(unescape(name)) {
			spans = append(spans, [2]int{start + from + len(name) + 1, start + end})
		}
		i = from
	}
	return spans
}

// unescape decodes a query parameter name, or returns it as it is.
func unescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

func isSecretParam(name string) bool {
	return slices.Contains(secretParams, strings.ToLower(strings.TrimSpace(name)))
}

// keywordSpans finds the secrets of keyword/value pairs, as libpq and pgx
// read them: keyword, optional spaces, '=', optional spaces, and a value
// that is either single-quoted (with backslash escapes) or runs to the next
// space (with backslash escapes too). A keyword without '=' is malformed:
// if it is a secret's, the word after it is hidden; if it looks like a
// broken URL's userinfo (user:password@host), the password is.
func keywordSpans(conn string) [][2]int {
	var spans [][2]int
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' }
	skip := func(i int) int {
		for i < len(conn) && isSpace(conn[i]) {
			i++
		}
		return i
	}
	// value returns the end of the value starting at i.
	value := func(i int) int {
		if i < len(conn) && conn[i] == '\'' {
			for i++; i < len(conn); i++ {
				switch conn[i] {
				case '\\':
					i++
				case '\'':
					return i + 1
				}
			}
			return len(conn) // unterminated: the rest is the value
		}
		for ; i < len(conn) && !isSpace(conn[i]); i++ {
			if conn[i] == '\\' {
				i++
			}
		}
		return min(i, len(conn))
	}
	for i := skip(0); i < len(conn); i = skip(i) {
		keyStart := i
		for i < len(conn) && conn[i] != '=' && !isSpace(conn[i]) {
			i++
		}
		key := conn[keyStart:i]
		j := skip(i)
		if j >= len(conn) || conn[j] != '=' {
			// A word without '='.
			if at := strings.LastIndexByte(key, '@'); at >= 0 {
				if colon := strings.IndexByte(key[:at], ':'); colon >= 0 {
					spans = append(spans, [2]int{keyStart + colon + 1, keyStart + at})
				}
			}
			if isSecretParam(key) && j < len(conn) {
				spans = append(spans, [2]int{j, value(j)})
				i = value(j)
				continue
			}
			i = j
			continue
		}
		v := skip(j + 1)
		end := value(v)
		if isSecretParam(key) {
			spans = append(spans, [2]int{v, end})
		}
		i = end
	}
	return spans
}

// scrub returns msg with every secret of conn (as written, and URL-decoded)
// of at least minScrubLen bytes replaced: shorter ones are not worth
// removing from messages, where they would garble unrelated words.
func scrub(conn, msg string) string {
	var seen []string
	for _, s := range secretSpans(conn) {
		v := strings.Trim(conn[s[0]:s[1]], "'")
		for _, x := range []string{v, unescape(v)} {
			if len(x) >= minScrubLen && !slices.Contains(seen, x) {
				seen = append(seen, x)
				msg = strings.ReplaceAll(msg, x, masked)
			}
		}
	}
	return msg
}

// minScrubLen is the shortest secret scrubbed out of error messages.
const minScrubLen = 4

// openError is an error of Open with the secrets of the connection string
// removed from its message; it wraps the original for errors.Is and As.
type openError struct {
	msg string
	err error
}

func (e *openError) Error() string { return e.msg }
func (e *openError) Unwrap() error { return e.err }

// scrubOpenError returns err, an error of opening conn, with every secret
// of conn removed from its message; it is err itself when there was none.
func scrubOpenError(conn string, err error) error {
	if err == nil {
		return nil
	}
	if msg := scrub(conn, err.Error()); msg != err.Error() {
		return &openError{msg: msg, err: err}
	}
	return err
}

// parseError replaces err, pgx's refusal to parse conn. pgx's error repeats
// the connection string, redacted on a best-effort basis only, and wraps
// url.Parse's error, which repeats the URL as it is: the replacement names
// the connection string as RedactDSN shows it, with pgx's reason.
func parseError(conn string, err error) error {
	pe, ok := errors.AsType[*pgconn.ParseConfigError](err)
	if !ok {
		return scrubOpenError(conn, err)
	}
	return errors.New("cannot parse the connection string " + RedactDSN(conn) + ": " + scrub(conn, parseReason(pe)))
}

// parseReason returns pgx's reason for refusing a connection string, such
// as "invalid port", without the connection string. The error pgx wraps is
// added unless it may repeat parts of the string: url.Parse's repeats the
// URL, and a number that does not parse may be a piece of a password that
// a malformed URL put where the port goes. A URL that does not parse gets
// a hint instead.
func parseReason(pe *pgconn.ParseConfigError) string {
	bare := *pe
	bare.ConnString = ""
	text := bare.Error() // "cannot parse ``: <reason>" and maybe " (<wrapped>)"
	reason, ok := strings.CutPrefix(text, "cannot parse ``: ")
	inner := pe.Unwrap()
	if ok && inner != nil {
		reason, ok = strings.CutSuffix(reason, " ("+inner.Error()+")")
	}
	if !ok || reason == "" {
		return "it is malformed"
	}
	_, isURLErr := errors.AsType[*url.Error](inner)
	_, isNumErr := errors.AsType[*strconv.NumError](inner)
	switch {
	case isURLErr:
		reason += " (percent-encode the characters @ : / ? # in the user name and password)"
	case inner != nil && !isNumErr:
		reason += " (" + inner.Error() + ")"
	}
	return reason
}
