package oidc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"approvald/approval"
)

// maxGroupLen is the longest group name kept, in bytes.
const maxGroupLen = 256

// decodeClaims decodes a JWT payload, which must be one JSON object.
// Numbers stay json.Number, so that times are not rounded.
func decodeClaims(payload []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil {
		return nil, errors.New("payload is not a JSON object")
	}
	if claims == nil {
		return nil, errors.New("payload is not a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("payload has data after the JSON object")
	}
	return claims, nil
}

// lookup returns the claim name: a top-level claim of that exact name, or,
// when there is none and name has dots, the value at that path of nested
// objects.
func lookup(claims map[string]any, name string) (any, bool) {
	if v, ok := claims[name]; ok {
		return v, true
	}
	if !strings.Contains(name, ".") {
		return nil, false
	}
	var cur any = claims
	for part := range strings.SplitSeq(name, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// timeError is a failed time check; msg is the message for the caller.
type timeError struct{ msg, detail string }

func (e *timeError) Error() string { return e.detail }

// maxUnix is the last second of year 9999: later times are nonsense.
const maxUnix = 253402300799

// numericDate reads a JWT NumericDate (seconds since 1970, maybe fractional).
func numericDate(claims map[string]any, name string) (time.Time, bool, error) {
	v, ok := claims[name]
	if !ok {
		return time.Time{}, false, nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, true, fmt.Errorf("claim %s is not a number", name)
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || f < 0 || f > maxUnix {
		return time.Time{}, true, fmt.Errorf("claim %s is not a valid time", name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true, nil
}

// checkTimes checks exp (required), nbf and iat against now, with Leeway.
func checkTimes(claims map[string]any, now time.Time) error {
	exp, ok, err := numericDate(claims, "exp")
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("token has no exp claim")
	}
	if !now.Before(exp.Add(Leeway)) {
		return &timeError{msgExpired, fmt.Sprintf("token expired at %s (now %s, leeway %s)", exp.Format(time.RFC3339), now.UTC().Format(time.RFC3339), Leeway)}
	}
	nbf, ok, err := numericDate(claims, "nbf")
	if err != nil {
		return err
	}
	if ok && now.Add(Leeway).Before(nbf) {
		return &timeError{msgNotValid, fmt.Sprintf("token not valid before %s (now %s, leeway %s)", nbf.Format(time.RFC3339), now.UTC().Format(time.RFC3339), Leeway)}
	}
	iat, ok, err := numericDate(claims, "iat")
	if err != nil {
		return err
	}
	if ok && now.Add(Leeway).Before(iat) {
		return &timeError{msgNotValid, fmt.Sprintf("token issued in the future, at %s (now %s, leeway %s)", iat.Format(time.RFC3339), now.UTC().Format(time.RFC3339), Leeway)}
	}
	return nil
}

// checkIssuerAudience checks iss (when an issuer is configured) and aud.
// go-oidc does this in the key-based modes.
func (v *Verifier) checkIssuerAudience(claims map[string]any) error {
	if v.issuer != "" {
		iss, _ := claims["iss"].(string)
		if iss != v.issuer {
			return fmt.Errorf("token issued by %q, expected %q", iss, v.issuer)
		}
	}
	var aud []string
	switch a := claims["aud"].(type) {
	case string:
		aud = []string{a}
	case []any:
		for _, x := range a {
			s, ok := x.(string)
			if !ok {
				return errors.New("claim aud has a value that is not a string")
			}
			aud = append(aud, s)
		}
	case nil:
	default:
		return errors.New("claim aud is neither a string nor an array")
	}
	if !slices.Contains(aud, v.audience) {
		return fmt.Errorf("token audience %q does not include %q", aud, v.audience)
	}
	return nil
}

// principal builds the principal of verified claims.
func (v *Verifier) principal(claims map[string]any) (approval.Principal, error) {
	val, ok := lookup(claims, v.principalClaim)
	if !ok {
		return approval.Principal{}, fmt.Errorf("token has no %s claim", v.principalClaim)
	}
	id, ok := val.(string)
	if !ok {
		return approval.Principal{}, fmt.Errorf("claim %s is not a string", v.principalClaim)
	}
	if id == "" || !utf8.ValidString(id) || utf8.RuneCountInString(id) > maxPrincipalLen || strings.ContainsFunc(id, unicode.IsControl) {
		return approval.Principal{}, fmt.Errorf("claim %s must be 1 to %d characters without control characters", v.principalClaim, maxPrincipalLen)
	}
	if v.principalClaim == "email" {
		if verified, ok := claims["email_verified"].(bool); ok && !verified {
			return approval.Principal{}, errors.New("claim email_verified is false")
		}
	}
	p := approval.Principal{ID: "user:" + id}

	if val, ok := lookup(claims, v.groupsClaim); ok {
		for _, g := range names(val, true) {
			if validGroup(g) && !slices.Contains(p.Groups, g) {
				p.Groups = append(p.Groups, g)
			}
		}
	}

	var scopes []approval.Scope
	if val, ok := lookup(claims, v.scopesClaim); ok {
		for _, s := range names(val, false) {
			if v.validScopes[s] {
				scopes = append(scopes, approval.Scope(s))
			}
		}
	}
	for _, g := range p.Groups {
		scopes = append(scopes, v.groupScopes[g]...)
	}
	slices.Sort(scopes)
	p.Scopes = slices.Compact(scopes)
	return p, nil
}

// names reads a claim that holds names: an array of strings (other values
// ignored) or one string of names separated by white space, and by commas
// too when commas is set.
func names(val any, commas bool) []string {
	switch x := val.(type) {
	case string:
		return strings.FieldsFunc(x, func(r rune) bool { return unicode.IsSpace(r) || commas && r == ',' })
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, strings.TrimSpace(s))
			}
		}
		return out
	default:
		return nil
	}
}

// validGroup reports whether g is usable as a group name.
func validGroup(g string) bool {
	return g != "" && len(g) <= maxGroupLen && utf8.ValidString(g) && !strings.ContainsFunc(g, unicode.IsControl)
}

func isSpaceOrControl(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }
