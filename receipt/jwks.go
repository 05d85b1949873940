package receipt

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// jwk is one JSON Web Key (RFC 7517) of type OKP (RFC 8037).
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Kid string `json:"kid,omitempty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
}

// JWKS returns the set as a JSON Web Key Set: one OKP/Ed25519 key per
// public key, kid its id, for signatures with EdDSA. It does not fail for a
// set made by NewKeySet or ParseJWKS.
func (ks KeySet) JWKS() ([]byte, error) {
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: make([]jwk, len(ks.keys))}
	for i, k := range ks.keys {
		set.Keys[i] = jwk{Kty: "OKP", Crv: "Ed25519", X: base64.RawURLEncoding.EncodeToString(k.Key), Kid: k.ID, Use: "sig", Alg: "EdDSA"}
	}
	return json.Marshal(set)
}

// ParseJWKS returns the Ed25519 signing keys of a JSON Web Key Set. As RFC
// 7517 asks, keys of another type or curve, or for another use or
// algorithm, are ignored. It returns an error when the set does not
// decode, an Ed25519 key has no kid, a kid used twice or an x that is not
// 32 bytes of unpadded base64url, or the set has no Ed25519 signing key.
func ParseJWKS(b []byte) (KeySet, error) {
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return KeySet{}, fmt.Errorf("the key set does not decode as a JWKS: %w", err)
	}
	var keys []PublicKey
	for i, k := range set.Keys {
		if k.Kty != "OKP" || k.Crv != "Ed25519" || (k.Use != "" && k.Use != "sig") || (k.Alg != "" && k.Alg != "EdDSA") {
			continue
		}
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return KeySet{}, fmt.Errorf("JWKS key %d (kid %q): x must be the %d-byte public key in unpadded base64url", i, k.Kid, ed25519.PublicKeySize)
		}
		keys = append(keys, PublicKey{ID: k.Kid, Key: x})
	}
	if len(keys) == 0 {
		return KeySet{}, fmt.Errorf("the JWKS has no Ed25519 signing key")
	}
	return NewKeySet(keys...)
}
