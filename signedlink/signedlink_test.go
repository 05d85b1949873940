package signedlink

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

func key(id string, b byte) Key { return Key{ID: id, Secret: bytes.Repeat([]byte{b}, 32)} }

func TestSignVerifyRotate(t *testing.T) {
	old, _ := New(key("k1", 1))
	rotated, err := New(key("k2", 2), key("k1", 1))
	if err != nil {
		t.Fatal(err)
	}
	c := Claims{RequestID: "r1", Version: 3, Digest: "sha256:ab", Recipient: "user:alice", Expires: t0.Add(time.Hour)}
	tok := old.Sign(c)
	got, err := rotated.Verify(tok, t0)
	if err != nil || got.RequestID != "r1" || got.Version != 3 || got.Recipient != "user:alice" || got.Digest != "sha256:ab" {
		t.Fatalf("verify after rotation: %+v %v", got, err)
	}
	if _, err := old.Verify(rotated.Sign(c), t0); !errors.Is(err, ErrSignature) {
		t.Fatalf("a key the verifier lacks: %v", err)
	}
	if _, err := rotated.Verify(tok, t0.Add(time.Hour)); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired: %v", err)
	}
}

func TestTamperedTokensAreRefused(t *testing.T) {
	s, _ := New(key("k1", 1))
	tok := s.Sign(Claims{RequestID: "r1", Version: 1, Recipient: "user:alice", Expires: t0.Add(time.Hour)})
	other := s.Sign(Claims{RequestID: "r1", Version: 1, Recipient: "user:mallory", Expires: t0.Add(time.Hour)})
	p, q := strings.Split(tok, "."), strings.Split(other, ".")
	swapped := strings.Join([]string{p[0], p[1], q[2], p[3]}, ".")
	for _, bad := range []string{"", "x", tok + "x", swapped, strings.Replace(tok, "l1.", "l2.", 1), strings.Repeat("a", 3000)} {
		if _, err := s.Verify(bad, t0); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestNewAndParseKeys(t *testing.T) {
	if _, err := New(Key{ID: "k", Secret: []byte("short")}); err == nil {
		t.Error("a short secret was accepted")
	}
	if _, err := New(key("k", 1), key("k", 2)); err == nil {
		t.Error("a repeated id was accepted")
	}
	keys, err := ParseKeys("new:" + strings.Repeat("QUJD", 11) + ",\nold:" + strings.Repeat("REVG", 11))
	if err != nil || len(keys) != 2 || keys[0].ID != "new" || len(keys[1].Secret) != 33 {
		t.Fatalf("%+v %v", keys, err)
	}
	_, err = ParseKeys("k1:not base64 secret!")
	if err == nil || strings.Contains(err.Error(), "secret!") {
		t.Fatalf("error shows the secret or is missing: %v", err)
	}
}

func FuzzVerify(f *testing.F) {
	s, _ := New(key("k1", 1))
	f.Add(s.Sign(Claims{RequestID: "r", Recipient: "user:a", Expires: t0.Add(time.Hour)}))
	f.Add("l1.k1.e30.AAAA")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := s.Verify(tok, t0)
		if err == nil && (c.RequestID == "" || c.Recipient == "") {
			t.Fatalf("accepted empty claims from %q", tok)
		}
	})
}
