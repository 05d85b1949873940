package web

import (
	"encoding/json"
	"net/http"
	"strings"

	"approvald/access"
	"approvald/approval"
	"approvald/gateway"
	"approvald/receipt"
	"approvald/rocrate"
)

// releaseRecordFile is the name a downloaded release record is saved
// under: the name RO-Crate gives a crate's metadata file.
const releaseRecordFile = "ro-crate-metadata.json"

// receiptFile is the name a downloaded receipt of request id is saved
// under; approvalctl's docs verify a file of this name.
func receiptFile(id string) string { return "approval-" + id + "-receipt.json" }

// receiptView is the "Signed receipt" section of a decided request's page:
// what the receipt the server issues now states, and how to get and check
// it.
type receiptView struct {
	// Decision is the decision the receipt attests (approved, rejected,
	// cancelled, expired or revoked), Settled its status.
	Decision string
	Settled  approval.Status
	// Status and Version are the request's status and version the receipt
	// describes.
	Status  string
	Version int64
	// KeyID names the key that signed it, as in the server's JWKS.
	KeyID string
	// File is the name the download is saved under; Verify the approvalctl
	// command that checks it against the server's keys.
	File   string
	Verify string
	// ReleaseRecord is set for a CR8TOR publication with files published:
	// its release record can be downloaded too.
	ReleaseRecord bool
}

// Class is the CSS class of the decision's badge.
func (v receiptView) Class() string { return statusClass(v.Settled) }

// receiptOf returns the receipt section of req's page: nil when the server
// issues no receipts or req has no decision yet. A receipt that cannot be
// issued or does not verify against the server's own keys is logged and
// leaves the section out, rather than offering a download that fails or
// that no verifier accepts.
func (s *server) receiptOf(r *http.Request, req *approval.Request) *receiptView {
	if s.Receipts == nil {
		return nil
	}
	settled, ok := receipt.DecisionOf(req)
	if !ok {
		return nil
	}
	env, err := s.Receipts.Issue(req)
	if err != nil {
		access.Logger(r.Context()).Error("issuing the receipt for the request page failed", "approval_id", req.ID, "err", err)
		return nil
	}
	st, keyID, err := s.Receipts.Keys.VerifyKey(env)
	if err != nil {
		access.Logger(r.Context()).Error("the receipt does not verify against the server's receipt keys", "approval_id", req.ID, "err", err)
		return nil
	}
	file := receiptFile(req.ID)
	return &receiptView{
		Decision: st.Predicate.Decision, Settled: settled, Status: st.Predicate.Status, Version: st.Predicate.Version,
		KeyID: keyID, File: file,
		Verify:        "approvalctl receipt verify " + file + " --server " + strings.TrimSuffix(s.expectedOrigin(r), "/"),
		ReleaseRecord: s.ReleaseRecord != nil && gateway.IsPublication(req) && len(gateway.PublishedFiles(req)) > 0,
	}
}

// notConfigured is the 404 of a download this server does not offer.
func notConfigured(what string) error {
	return approval.Errorf(approval.KindNotFound, approval.CodeNotFound, "%s are not configured on this server", what)
}

// downloadReceipt serves the signed receipt of the request, byte for byte
// what GET /v1/approvals/{id}/receipt answers for its current version, as
// a file to save: 404 when there is no such request or no receipts are
// issued here, 409 while it is undecided.
func (s *server) downloadReceipt(w http.ResponseWriter, r *http.Request, _ *session) error {
	if s.Receipts == nil {
		return notConfigured("receipts")
	}
	req, err := s.Engine.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	env, err := s.Receipts.Issue(req)
	if err != nil {
		return err
	}
	b, err := json.Marshal(env)
	if err != nil {
		return approval.Internal(err)
	}
	download(w, "application/json", receiptFile(req.ID), b)
	return nil
}

// downloadReleaseRecord serves the release record (RO-Crate JSON-LD) of a
// decided CR8TOR publication, made as the API makes it: 404 when there is
// no such request, it is not a publication or no records are made here,
// 409 while it is undecided or nothing has been published.
func (s *server) downloadReleaseRecord(w http.ResponseWriter, r *http.Request, _ *session) error {
	if s.ReleaseRecord == nil || s.Receipts == nil {
		return notConfigured("release records")
	}
	req, err := s.Engine.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	b, err := s.ReleaseRecord(req)
	if err != nil {
		return err
	}
	download(w, rocrate.ContentType, releaseRecordFile, b)
	return nil
}

// download answers 200 with b and a newline, as the API does, as an
// attachment named file (a name of the UI's making, never the caller's).
func download(w http.ResponseWriter, contentType, file string, b []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Disposition", `attachment; filename="`+file+`"`)
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	_, _ = w.Write([]byte("\n"))
}
