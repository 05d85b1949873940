package httpapi

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"

	"approvald/approval"
	"approvald/receipt"
	"approvald/rocrate"
)

// jwksMaxAge is how long clients may cache the receipt keys: short, so
// that a rotated-in key is seen soon; a verifier that meets an unknown
// keyid should fetch the set again anyway.
const jwksMaxAge = "public, max-age=300"

// receiptsUnavailable is the error of the receipt routes on a server
// without an issuer.
func receiptsUnavailable() error {
	return approval.Errorf(approval.KindUnavailable, approval.CodeUnavailable, "receipts are not configured")
}

// issueReceipt reads the request of r's {id} and returns it with its
// signed receipt: 404 for no such request, 409 while it is undecided.
func (s *server) issueReceipt(r *http.Request) (*approval.Request, receipt.Envelope, error) {
	if s.Receipts == nil {
		return nil, receipt.Envelope{}, receiptsUnavailable()
	}
	req, err := s.Engine.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return nil, receipt.Envelope{}, err
	}
	env, err := s.Receipts.Issue(req)
	if err != nil {
		return nil, receipt.Envelope{}, err
	}
	return req, env, nil
}

// getReceipt answers the DSSE envelope of the request's receipt at its
// current version. The envelope is deterministic (Ed25519) for one
// version and key, so its ETag is a digest of its bytes.
func (s *server) getReceipt(w http.ResponseWriter, r *http.Request, _ approval.Principal) error {
	_, env, err := s.issueReceipt(r)
	if err != nil {
		return err
	}
	b, err := json.Marshal(env)
	if err != nil {
		return approval.Internal(err)
	}
	return writeTagged(w, r, "application/json", b)
}

// receiptKeys answers the public keys receipts verify with, as a JWKS.
func (s *server) receiptKeys(w http.ResponseWriter, _ *http.Request, _ approval.Principal) error {
	if s.Receipts == nil {
		return receiptsUnavailable()
	}
	b, err := s.Receipts.Keys.JWKS()
	if err != nil {
		return approval.Internal(err)
	}
	w.Header().Set("Cache-Control", jwksMaxAge)
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	_, _ = w.Write([]byte("\n"))
	return nil
}

// getReleaseRecord answers the release record (RO-Crate JSON-LD) of a
// decided CR8TOR publication, as Deps.ReleaseRecord makes it.
func (s *server) getReleaseRecord(w http.ResponseWriter, r *http.Request, _ approval.Principal) error {
	if s.ReleaseRecord == nil {
		return approval.Errorf(approval.KindNotFound, approval.CodeNotFound, "release records are not configured on this server")
	}
	req, err := s.Engine.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	b, err := s.ReleaseRecord(req)
	if err != nil {
		return err
	}
	return writeTagged(w, r, rocrate.ContentType, b)
}

// writeTagged answers 200 with body b of type contentType and a strong
// ETag of its bytes, or 304 when If-None-Match names that tag.
func writeTagged(w http.ResponseWriter, r *http.Request, contentType string, b []byte) error {
	sum := sha256.Sum256(b)
	tag := `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`
	w.Header().Set("ETag", tag)
	for t := range strings.SplitSeq(r.Header.Get("If-None-Match"), ",") {
		if t = strings.TrimPrefix(strings.TrimSpace(t), "W/"); t == tag || t == "*" {
			w.WriteHeader(http.StatusNotModified)
			return nil
		}
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	_, _ = w.Write([]byte("\n"))
	return nil
}
