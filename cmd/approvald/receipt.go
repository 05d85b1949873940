package main

import (
	"fmt"
	"log/slog"

	"approvald/approval"
	"approvald/gateway"
	"approvald/receipt"
	"approvald/rocrate"
)

// newReceiptIssuer returns the issuer of decision receipts: signed with
// the first private key of cfg.ReceiptKeys (APPROVALD_RECEIPT_KEYS, PEM),
// every key of it published; without keys, with a key made at start, and
// a warning, since the receipts it signs cannot be checked against the
// server's keys once it restarts. A CR8TOR publication's receipt also
// names the files published for it, with their SHA-512. It returns an
// error naming the variable, never the keys, when they do not parse
// (parseConfig has checked them already) or no key can be made.
func newReceiptIssuer(cfg config, log *slog.Logger) (*receipt.Issuer, error) {
	var (
		signer *receipt.Signer
		keys   receipt.KeySet
		err    error
	)
	if cfg.ReceiptKeys != "" {
		if signer, keys, err = receipt.ParseKeys([]byte(cfg.ReceiptKeys)); err != nil {
			return nil, fmt.Errorf("APPROVALD_RECEIPT_KEYS: %w", err)
		}
	} else {
		if signer, err = receipt.GenerateSigner(); err != nil {
			return nil, err
		}
		if keys, err = receipt.NewKeySet(signer.PublicKey()); err != nil {
			return nil, err
		}
		log.Warn("set APPROVALD_RECEIPT_KEYS: receipts are signed with a key made at start, which dies with the process; receipts signed before a restart cannot be checked against the server's keys")
	}
	return &receipt.Issuer{Signer: signer, Keys: keys, Extra: publishedSubjects}, nil
}

// publishedSubjects returns the files the CR8TOR gateway recorded as
// published for the publication request r, as receipt subjects named by
// their path with their SHA-512; none for any other request.
func publishedSubjects(r *approval.Request) []receipt.Subject {
	files := gateway.PublishedFiles(r)
	if len(files) == 0 {
		return nil
	}
	out := make([]receipt.Subject, len(files))
	for i, f := range files {
		out[i] = receipt.Subject{Name: f.Path, Digest: map[string]string{"sha512": f.SHA512}}
	}
	return out
}

// releaseRecord returns what makes the release record of a CR8TOR
// publication (GET /v1/approvals/{id}/release-record): an RO-Crate naming
// the project, the run, the files published with their sizes and SHA-512,
// every review and the decision, and carrying the receipt env; its @ids
// under baseURL (approvald's public URL, "" for relative ones), the data's
// licence the one at the URL license ("" for the project's terms). A request
// whose run approvald cannot name is no publication (404); one with
// nothing published yet has no record (409): a release record is of what
// was released.
func releaseRecord(baseURL, license string) func(*approval.Request, receipt.Envelope) ([]byte, error) {
	return func(r *approval.Request, env receipt.Envelope) ([]byte, error) {
		run, ok := gateway.RunOf(r)
		if !ok {
			return nil, approval.Errorf(approval.KindNotFound, approval.CodeNotFound,
				"request %s is not a CR8TOR publication whose run approvald can name", r.ID)
		}
		files := gateway.PublishedFiles(r)
		if len(files) == 0 {
			return nil, approval.Errorf(approval.KindConflict, approval.CodeInvalidTransition,
				"nothing has been published for request %s (%s) yet: a release record names the files published", r.ID, run)
		}
		return rocrate.Build(rocrate.Input{Request: r, Run: run, Files: files, Receipt: env, BaseURL: baseURL, License: license})
	}
}
