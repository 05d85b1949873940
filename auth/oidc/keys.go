package oidc

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// maxKeyFileLen bounds a key or secret file.
const maxKeyFileLen = 1 << 20

// minSecretLen is the shortest HS256 secret accepted: 256 bits, the size of
// the hash output (RFC 7518, section 3.2).
const minSecretLen = 32

// minRSABits is the smallest RSA key accepted.
const minRSABits = 2048

func readSmallFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFileLen+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxKeyFileLen {
		return nil, fmt.Errorf("%s is over %d bytes", path, maxKeyFileLen)
	}
	return b, nil
}

// loadSecret reads an HS256 secret file.
func loadSecret(path string) ([]byte, error) {
	b, err := readSmallFile(path)
	if err != nil {
		return nil, fmt.Errorf("oidc: HS256 secret: %w", err)
	}
	b = bytes.TrimSpace(b)
	if len(b) < minSecretLen {
		return nil, fmt.Errorf("oidc: the HS256 secret in %s is %d bytes; it must be at least %d", path, len(b), minSecretLen)
	}
	return b, nil
}

// loadPublicKeys reads the public keys of a PEM file.
func loadPublicKeys(path string) ([]crypto.PublicKey, error) {
	b, err := readSmallFile(path)
	if err != nil {
		return nil, fmt.Errorf("oidc: public key: %w", err)
	}
	var keys []crypto.PublicKey
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		key, err := parsePublicKey(block)
		if err != nil {
			return nil, fmt.Errorf("oidc: public key file %s: %w", path, err)
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("oidc: public key file %s holds no PEM public key", path)
	}
	return keys, nil
}

func parsePublicKey(block *pem.Block) (crypto.PublicKey, error) {
	var key any
	var err error
	switch {
	case block.Type == "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case block.Type == "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case block.Type == "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
			key = cert.PublicKey
		}
	case strings.Contains(block.Type, "PRIVATE KEY"):
		return nil, errors.New("it holds a private key; give the public key only")
	default:
		return nil, fmt.Errorf("unsupported PEM block %q", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s block: %w", block.Type, err)
	}
	switch k := key.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("RSA key of %d bits; at least %d are needed", k.N.BitLen(), minRSABits)
		}
		return k, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return nil, fmt.Errorf("ECDSA curve %s; only P-256 (ES256) and P-384 (ES384) are accepted", k.Curve.Params().Name)
		}
		return k, nil
	case ed25519.PublicKey:
		return k, nil
	default:
		return nil, fmt.Errorf("unsupported key type %T", key)
	}
}

// verifyHS256 checks the HS256 signature of raw and returns its payload.
func (v *Verifier) verifyHS256(raw string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.HS256})
	if err != nil {
		return nil, fmt.Errorf("malformed jwt: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, fmt.Errorf("%d signatures; exactly one is needed", len(jws.Signatures))
	}
	payload, err := jws.Verify(v.secret)
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	return payload, nil
}
