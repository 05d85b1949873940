package receipt

import (
	"crypto/ecdh"
	"encoding/base64"
)

func b64url(b []byte) string                { return base64.RawURLEncoding.EncodeToString(b) }
func b64urlDecode(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
func ecdhX25519() ecdh.Curve                { return ecdh.X25519() }
