package main

import (
	"fmt"
	"log/slog"

	"approvald/approval"
	"approvald/gateway"
	"approvald/receipt"
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
