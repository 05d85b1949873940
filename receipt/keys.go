package receipt

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
)

// The PEM block types ParseKeys reads.
const (
	privateKeyBlock = "PRIVATE KEY"
	publicKeyBlock  = "PUBLIC KEY"
)

// Thumbprint returns the RFC 7638 JWK thumbprint of an Ed25519 public key:
// the unpadded base64url SHA-256 of its canonical JWK
// {"crv":"Ed25519","kty":"OKP","x":…}. It is the id ParseKeys and
// GenerateSigner give a key, so that an id needs no configuration and
// names the same key wherever it is computed. It does not fail; a key of
// the wrong length gives the thumbprint of those bytes.
func Thumbprint(key ed25519.PublicKey) string {
	// The members in lexicographic order, no whitespace (RFC 7638 §3.2);
	// base64url never needs JSON escaping.
	canonical := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(key) + `"}`
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// GenerateSigner returns a Signer with a new random key, named by its
// thumbprint: for a server that was given no key, whose receipts then
// verify only against the keys it publishes while it runs. It returns an
// error only when the system's random source fails.
func GenerateSigner() (*Signer, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating a receipt key: %w", err)
	}
	return NewSigner(Thumbprint(key.Public().(ed25519.PublicKey)), key)
}

// ParseKeys reads receipt keys from PEM text: PRIVATE KEY blocks (PKCS#8
// Ed25519), the first of which signs, and PUBLIC KEY blocks (PKIX
// Ed25519) that only verify, such as the keys of receipts signed before a
// rotation. Every key is named by its thumbprint (Thumbprint). The key set
// holds every key's public half, the signer's first; a key given twice
// (a private key and its own public key) is kept once.
//
// It returns an error, naming the block by its number from 1 and never
// showing key material, when the text holds no PEM block or something
// other than PEM blocks, a block of another type, a block that does not
// parse, a key that is not Ed25519, or no private key.
func ParseKeys(pemText []byte) (*Signer, KeySet, error) {
	signer, keys, err := parsePEM(pemText)
	if err != nil {
		return nil, KeySet{}, err
	}
	if signer == nil {
		return nil, KeySet{}, errors.New("the receipt keys hold no PRIVATE KEY block: the first PKCS#8 Ed25519 private key signs")
	}
	set, err := NewKeySet(keys...)
	if err != nil {
		return nil, KeySet{}, err
	}
	return signer, set, nil
}

// ParsePublicKeys reads verification keys from PEM text as ParseKeys does,
// PUBLIC KEY blocks and the public half of PRIVATE KEY blocks, but needs
// no private key: for a verifier. It returns ParseKeys' errors but that one.
func ParsePublicKeys(pemText []byte) (KeySet, error) {
	_, keys, err := parsePEM(pemText)
	if err != nil {
		return KeySet{}, err
	}
	return NewKeySet(keys...)
}

// parsePEM returns the signer of the first private key of pemText (nil
// when there is none) and every key's public half, the signer's first.
func parsePEM(pemText []byte) (*Signer, []PublicKey, error) {
	var (
		signer *Signer
		keys   []PublicKey
		seen   = map[string]bool{}
		rest   = pemText
	)
	add := func(pub ed25519.PublicKey) string {
		id := Thumbprint(pub)
		if !seen[id] {
			seen[id] = true
			keys = append(keys, PublicKey{ID: id, Key: pub})
		}
		return id
	}
	for n := 1; ; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			if len(bytes.TrimSpace(rest)) > 0 {
				if n == 1 {
					return nil, nil, errors.New("the receipt keys are not PEM: no -----BEGIN PRIVATE KEY----- or -----BEGIN PUBLIC KEY----- block")
				}
				return nil, nil, fmt.Errorf("the text after PEM block %d is not a PEM block", n-1)
			}
			break
		}
		if len(block.Headers) > 0 {
			return nil, nil, fmt.Errorf("block %d (%s): has PEM headers (an encrypted key?); give an unencrypted PKCS#8 key", n, block.Type)
		}
		switch block.Type {
		case privateKeyBlock:
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("block %d (PRIVATE KEY): not a PKCS#8 private key", n)
			}
			priv, ok := k.(ed25519.PrivateKey)
			if !ok {
				return nil, nil, fmt.Errorf("block %d (PRIVATE KEY): %s, not Ed25519", n, keyKind(k))
			}
			id := add(priv.Public().(ed25519.PublicKey))
			if signer == nil {
				s, err := NewSigner(id, priv)
				if err != nil {
					return nil, nil, fmt.Errorf("block %d (PRIVATE KEY): %w", n, err)
				}
				signer = s
			}
		case publicKeyBlock:
			k, err := x509.ParsePKIXPublicKey(block.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("block %d (PUBLIC KEY): not a PKIX public key", n)
			}
			pub, ok := k.(ed25519.PublicKey)
			if !ok {
				return nil, nil, fmt.Errorf("block %d (PUBLIC KEY): %s, not Ed25519", n, keyKind(k))
			}
			add(pub)
		default:
			return nil, nil, fmt.Errorf("block %d is %q: give PRIVATE KEY (PKCS#8 Ed25519) or PUBLIC KEY (PKIX Ed25519) blocks", n, block.Type)
		}
	}
	if len(keys) == 0 {
		return nil, nil, errors.New("the receipt keys hold no PEM block: give a PRIVATE KEY (PKCS#8 Ed25519) block")
	}
	if signer != nil {
		// The signer's key first: the one the server signs with now.
		for i, k := range keys {
			if k.ID == signer.keyID {
				copy(keys[1:i+1], keys[:i])
				keys[0] = k
				break
			}
		}
	}
	return signer, keys, nil
}

// keyKind names the type of a parsed key for an error message.
func keyKind(k any) string {
	switch k.(type) {
	case *rsa.PrivateKey, *rsa.PublicKey:
		return "an RSA key"
	case *ecdsa.PrivateKey, *ecdsa.PublicKey:
		return "an ECDSA key"
	case *ecdh.PrivateKey, *ecdh.PublicKey:
		return "an X25519 (ECDH) key"
	default:
		return fmt.Sprintf("a key of type %T", k)
	}
}
