package receipt

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"approvald/jsonstrict"
)

// Errors of Verify and CheckPayload; the returned errors wrap one of them
// and say more (which key, which field).
var (
	ErrMalformed       = errors.New("the receipt is malformed")
	ErrPayloadType     = errors.New("the receipt's payloadType is not " + PayloadType)
	ErrUnknownKey      = errors.New("the receipt is signed by no known key")
	ErrSignature       = errors.New("the receipt's signature does not verify")
	ErrPayloadMismatch = errors.New("the payload is not the one the receipt covers")
)

// maxSignatures bounds the signatures Verify looks at.
const maxSignatures = 16

// Envelope is a DSSE envelope. Payload is the standard base64 of the
// statement's JSON; each signature's Sig is the standard base64 of an
// Ed25519 signature over the DSSE pre-authentication encoding (PAE).
type Envelope struct {
	PayloadType string      `json:"payloadType"`
	Payload     string      `json:"payload"`
	Signatures  []Signature `json:"signatures"`
}

// Signature is one signature of an envelope, by the key named KeyID.
type Signature struct {
	KeyID string `json:"keyid"`
	Sig   string `json:"sig"`
}

// PAE returns the DSSE v1 pre-authentication encoding of a payload: what
// is signed.
func PAE(payloadType string, payload []byte) []byte {
	var b bytes.Buffer
	b.WriteString("DSSEv1 ")
	b.WriteString(strconv.Itoa(len(payloadType)))
	b.WriteByte(' ')
	b.WriteString(payloadType)
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(len(payload)))
	b.WriteByte(' ')
	b.Write(payload)
	return b.Bytes()
}

// PublicKey is a verification key and its id.
type PublicKey struct {
	ID  string
	Key ed25519.PublicKey
}

// Signer signs statements with one Ed25519 key.
type Signer struct {
	keyID string
	key   ed25519.PrivateKey
}

// NewSigner returns a Signer with key, named keyID in the envelopes it
// signs. It returns an error when keyID is not 1-64 printable ASCII
// characters without spaces or key is not an Ed25519 private key.
func NewSigner(keyID string, key ed25519.PrivateKey) (*Signer, error) {
	if err := checkKeyID(keyID); err != nil {
		return nil, err
	}
	if len(key) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("receipt key %q: an Ed25519 private key has %d bytes, not %d", keyID, ed25519.PrivateKeySize, len(key))
	}
	return &Signer{keyID: keyID, key: slices.Clone(key)}, nil
}

// PublicKey returns the signer's public key and its id, for a KeySet.
func (s *Signer) PublicKey() PublicKey {
	return PublicKey{ID: s.keyID, Key: slices.Clone(s.key.Public().(ed25519.PublicKey))}
}

// Sign returns st in a DSSE envelope signed by s. It returns an error
// only when st does not encode as JSON.
func (s *Signer) Sign(st Statement) (Envelope, error) {
	payload, err := json.Marshal(st)
	if err != nil {
		return Envelope{}, fmt.Errorf("receipt: encoding the statement: %w", err)
	}
	sig := ed25519.Sign(s.key, PAE(PayloadType, payload))
	return Envelope{
		PayloadType: PayloadType,
		Payload:     base64.StdEncoding.EncodeToString(payload),
		Signatures:  []Signature{{KeyID: s.keyID, Sig: base64.StdEncoding.EncodeToString(sig)}},
	}, nil
}

// KeySet holds the public keys receipts are verified with, by id; a key
// that no longer signs stays in the set so that its receipts still verify.
// The zero KeySet holds no key.
type KeySet struct {
	keys []PublicKey
}

// NewKeySet returns the set of keys. It returns an error when an id is
// invalid or used twice, or a key is not an Ed25519 public key.
func NewKeySet(keys ...PublicKey) (KeySet, error) {
	seen := make(map[string]bool, len(keys))
	out := make([]PublicKey, 0, len(keys))
	for _, k := range keys {
		if err := checkKeyID(k.ID); err != nil {
			return KeySet{}, err
		}
		if seen[k.ID] {
			return KeySet{}, fmt.Errorf("receipt key id %q is used twice", k.ID)
		}
		if len(k.Key) != ed25519.PublicKeySize {
			return KeySet{}, fmt.Errorf("receipt key %q: an Ed25519 public key has %d bytes, not %d", k.ID, ed25519.PublicKeySize, len(k.Key))
		}
		seen[k.ID] = true
		out = append(out, PublicKey{ID: k.ID, Key: slices.Clone(k.Key)})
	}
	return KeySet{keys: out}, nil
}

// Keys returns the set's keys in the order they were given.
func (ks KeySet) Keys() []PublicKey { return slices.Clone(ks.keys) }

// key returns the key named id.
func (ks KeySet) key(id string) (ed25519.PublicKey, bool) {
	for _, k := range ks.keys {
		if k.ID == id {
			return k.Key, true
		}
	}
	return nil, false
}

// Verify checks env and returns the statement it carries. The envelope is
// accepted when one of its signatures is a valid signature by a key of ks.
// The error wraps ErrPayloadType for another payloadType, ErrUnknownKey
// when no signature names a key of ks, ErrSignature when a signature by a
// key of ks does not verify, and ErrMalformed for an envelope or statement
// that does not decode (bad base64, no signature, a statement that is not
// an in-toto v1 Statement with approvald's predicate and a payload digest).
func (ks KeySet) Verify(env Envelope) (Statement, error) {
	st, _, err := ks.VerifyKey(env)
	return st, err
}

// VerifyKey is Verify that also returns the id of the key whose signature
// verified, to tell a reader who signed. It returns Verify's errors.
func (ks KeySet) VerifyKey(env Envelope) (Statement, string, error) {
	if env.PayloadType != PayloadType {
		return Statement{}, "", fmt.Errorf("%w: it is %q", ErrPayloadType, env.PayloadType)
	}
	payload, err := decodeBase64(env.Payload)
	if err != nil {
		return Statement{}, "", fmt.Errorf("%w: the payload is not base64", ErrMalformed)
	}
	switch n := len(env.Signatures); {
	case n == 0:
		return Statement{}, "", fmt.Errorf("%w: it has no signature", ErrMalformed)
	case n > maxSignatures:
		return Statement{}, "", fmt.Errorf("%w: it has %d signatures, at most %d are read", ErrMalformed, n, maxSignatures)
	}
	pae := PAE(env.PayloadType, payload)
	var failed error
	for i, s := range env.Signatures {
		key, ok := ks.key(s.KeyID)
		if !ok {
			continue
		}
		sig, err := decodeBase64(s.Sig)
		if err != nil {
			failed = fmt.Errorf("%w: signature %d (key %q) is not base64", ErrMalformed, i, s.KeyID)
			continue
		}
		if !ed25519.Verify(key, pae, sig) {
			failed = fmt.Errorf("%w: the signature by key %q does not match the receipt's content", ErrSignature, s.KeyID)
			continue
		}
		st, err := parseStatement(payload)
		if err != nil {
			return Statement{}, "", err
		}
		return st, s.KeyID, nil
	}
	if failed != nil {
		return Statement{}, "", failed
	}
	ids := make([]string, len(env.Signatures))
	for i, s := range env.Signatures {
		ids[i] = strconv.Quote(s.KeyID)
	}
	return Statement{}, "", fmt.Errorf("%w: it is signed by key %s, the known keys are %s", ErrUnknownKey, joinIDs(ids), joinIDs(ks.quotedIDs()))
}

// parseStatement decodes a signed payload as approvald's statement.
func parseStatement(payload []byte) (Statement, error) {
	if err := jsonstrict.Check(payload, jsonstrict.Options{MaxDepth: 96}); err != nil {
		return Statement{}, fmt.Errorf("%w: the statement is not strict JSON: %v", ErrMalformed, err)
	}
	var st Statement
	if err := json.Unmarshal(payload, &st); err != nil {
		return Statement{}, fmt.Errorf("%w: the statement does not decode: %v", ErrMalformed, err)
	}
	if st.Type != StatementType {
		return Statement{}, fmt.Errorf("%w: the statement's _type is %q, not %q", ErrMalformed, st.Type, StatementType)
	}
	if st.PredicateType != PredicateType {
		return Statement{}, fmt.Errorf("%w: the predicateType is %q, not %q", ErrMalformed, st.PredicateType, PredicateType)
	}
	if _, err := st.PayloadDigest(); err != nil {
		return Statement{}, err
	}
	return st, nil
}

// decodeBase64 decodes s in any of the encodings DSSE allows: standard or
// URL-safe, padded or not.
func decodeBase64(s string) ([]byte, error) {
	var err error
	// DSSE allows the standard and the URL-safe alphabets, padded or not;
	// Strict refuses line breaks and non-zero padding bits, so that one
	// signature or payload has one spelling per alphabet.
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		var b []byte
		if b, err = enc.Strict().DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, err
}

// ParseEnvelope decodes a DSSE envelope strictly: one JSON object with
// payloadType, payload and signatures (keyid, sig) and nothing else, no
// key given twice or in another letter case (encoding/json would take the
// last of {"payload":…,"PAYLOAD":…} where jq takes the first, so a file
// could verify with one reading and be read with another). It returns an
// error wrapping ErrMalformed.
func ParseEnvelope(b []byte) (Envelope, error) {
	if err := jsonstrict.Check(b, jsonstrict.Options{MaxDepth: 4}); err != nil {
		return Envelope{}, fmt.Errorf("%w: the envelope is not strict JSON: %v", ErrMalformed, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var env Envelope
	if err := dec.Decode(&env); err != nil {
		return Envelope{}, fmt.Errorf("%w: the envelope does not decode: %v", ErrMalformed, err)
	}
	return env, nil
}

func (ks KeySet) quotedIDs() []string {
	ids := make([]string, len(ks.keys))
	for i, k := range ks.keys {
		ids[i] = strconv.Quote(k.ID)
	}
	return ids
}

// joinIDs lists quoted ids for a message; "none" for none.
func joinIDs(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	out := ids[0]
	for _, id := range ids[1:] {
		out += ", " + id
	}
	return out
}

// checkKeyID returns an error unless id is 1-64 printable ASCII
// characters other than space (it appears in JSON, JWKS and messages).
func checkKeyID(id string) error {
	if id == "" || len(id) > 64 {
		return fmt.Errorf("receipt key id %q: use 1-64 printable characters", id)
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return fmt.Errorf("receipt key id %q: use printable ASCII characters without spaces", id)
		}
	}
	return nil
}
