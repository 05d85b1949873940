package oidc

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// maxHeaderLen bounds the header part LooksLikeJWT decodes.
const maxHeaderLen = 8 << 10

// LooksLikeJWT reports whether s has the shape of a compact JWS: three parts
// of base64url without padding, separated by dots, the first of which decodes
// to a JSON object with an "alg" string. The signature part may be empty (as
// in an "alg": "none" token, which Verify then refuses). It checks no
// signature: it only tells a JWT from another kind of bearer credential. API
// keys ("apd_...") never match.
func LooksLikeJWT(s string) bool {
	if strings.HasPrefix(s, "apd_") { // auth.KeyPrefix; not imported, to keep auth free to import this package
		return false
	}
	header, rest, ok := strings.Cut(s, ".")
	if !ok {
		return false
	}
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok || header == "" || payload == "" || len(header) > maxHeaderLen {
		return false
	}
	if !isBase64URL(header) || !isBase64URL(payload) || !isBase64URL(sig) {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(header)
	if err != nil {
		return false
	}
	var h map[string]json.RawMessage
	if err := json.Unmarshal(b, &h); err != nil {
		return false
	}
	var alg string
	return json.Unmarshal(h["alg"], &alg) == nil && alg != ""
}

// isBase64URL reports whether s is made of the base64url alphabet and has a
// length unpadded base64 can have. A dot is not in the alphabet, so a fourth
// part fails here.
func isBase64URL(s string) bool {
	if len(s)%4 == 1 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
