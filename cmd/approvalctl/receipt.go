package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"approvald/client"
	"approvald/receipt"
)

// receiptCmd is "receipt get|verify": the signed receipts of decisions.
func (a *app) receiptCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "receipt",
		Short: "Get a decided request's signed receipt, or verify one offline",
		Long: `A decided request has a signed receipt: an in-toto Statement in a DSSE
envelope, signed with the server's Ed25519 key, that records the decision
(approved, rejected, cancelled, expired or revoked), the policy and its
SHA-256, every review and the digests of the payload, the items and, for a
CR8TOR publication, the published files. Keep it, and check it later with
"receipt verify", with or without the server.`,
		Args: noArgs,
	}
	cmd.AddCommand(a.receiptGetCmd(), a.receiptVerifyCmd())
	return cmd
}

// documentCmd is a command that fetches a raw document of request ID and
// writes it to standard output or to --output FILE.
func (a *app) documentCmd(use, short, long, example string, fetch func(cl *client.Client, id string) ([]byte, error)) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:               use,
		Short:             short,
		Long:              long,
		Example:           example,
		Args:              argsExactly("ID"),
		ValidArgsFunction: a.completeApprovals,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			doc, err := fetch(cl, args[0])
			if err != nil {
				return err
			}
			doc = append(doc, '\n')
			if file == "" {
				_, err = a.stdout.Write(doc)
				return err
			}
			if err := os.WriteFile(file, doc, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "wrote %s (%d bytes)\n", file, len(doc))
			return nil
		},
	}
	// -o names the file here: the document is always the server's JSON.
	cmd.Flags().StringVarP(&file, "output", "o", "", "write the document to `FILE` instead of standard output")
	return cmd
}

func (a *app) receiptGetCmd() *cobra.Command {
	return a.documentCmd("get ID",
		"Get the signed receipt of a decided request",
		`Print the signed receipt of request ID as the server sends it (a DSSE
envelope, JSON), or write it to FILE with -o FILE. A receipt describes the
request at its current version; the decision it states is the same before and
after delivery, and a later change (delivery, revocation, a recorded outcome)
gives a newer receipt with a higher version: keep the newest. A request that
is not decided yet has none (409 invalid_transition). Needs approvals:read.`,
		`  approvalctl receipt get $ID -o receipt.json
  approvalctl receipt get $ID | jq -r .payload | base64 -d | jq .predicate`,
		func(cl *client.Client, id string) ([]byte, error) { return cl.GetReceipt(a.ctx, id) })
}

func (a *app) releaseRecordCmd() *cobra.Command {
	return a.documentCmd("release-record ID",
		"Get the release record (RO-Crate) of a CR8TOR publication",
		`Print the release record of CR8TOR publication request ID as the server
sends it (RO-Crate 1.1 metadata, JSON-LD), or write it to FILE with -o FILE:
the project run, the published files and their SHA-512, the decision and its
reviewers, with the request's signed receipt. Only the requests of the CR8TOR
gateway's approval step have one (404 for any other). Needs approvals:read.`,
		`  approvalctl release-record $ID -o ro-crate-metadata.json`,
		func(cl *client.Client, id string) ([]byte, error) { return cl.ReleaseRecord(a.ctx, id) })
}

func (a *app) receiptVerifyCmd() *cobra.Command {
	var keyFile, payloadFile, wantRequest, wantDecision string
	cmd := &cobra.Command{
		Use:   "verify FILE",
		Short: "Verify a receipt's signature offline, or against the server's published keys",
		Long: `Check the receipt in FILE ("-" for standard input): its DSSE signature
by a known Ed25519 key, and that it holds approvald's decision statement; then
print what it states.

The keys come from --key FILE, offline: a JWKS (the JSON of
/.well-known/approvald/keys) or PEM keys (PUBLIC KEY or PRIVATE KEY blocks,
such as APPROVALD_RECEIPT_KEYS); else from the server (--server, APPROVALD_URL
or the current context), whose /.well-known/approvald/keys needs no token.

With --payload FILE, also check that FILE's JSON is the request's payload: its
RFC 8785 canonical form must have the SHA-256 the receipt records, so spacing
and key order do not matter, but any value does.

A valid signature says only that the server signed this statement. A gate
should also say what it expects: --request ID (the receipt is of that request)
and --decision approved (it attests that decision: not a rejection, and not a
request that was since revoked — a revocation gives a newer receipt whose
decision is revoked, so fetch the receipt when you gate, not earlier).

Exit status 0 when everything verifies; 1 with the reason otherwise (a changed
byte or removed review: the signature does not match; a key that is not in the
set; another payload; another request or decision than expected).`,
		Example: `  approvalctl receipt verify receipt.json --key keys.jwks
  approvalctl receipt verify receipt.json --server https://approvals.example.com --payload payload.json
  approvalctl receipt verify receipt.json --key keys.jwks --request "$ID" --decision approved
  approvalctl receipt get $ID | approvalctl receipt verify - -o json`,
		Args: argsExactly("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := a.readNamed(args[0], "receipt")
			if err != nil {
				return err
			}
			env, err := receipt.ParseEnvelope(raw)
			if err != nil {
				return fmt.Errorf("%s is not a receipt (a DSSE envelope, JSON): %w", args[0], err)
			}
			ks, from, err := a.receiptKeys(keyFile)
			if err != nil {
				return err
			}
			st, keyID, err := ks.VerifyKey(env)
			if err != nil {
				return fmt.Errorf("the receipt does not verify against %s: %w", from, err)
			}
			if wantRequest != "" && st.Predicate.RequestID != wantRequest {
				return fmt.Errorf("the receipt verifies, but it is the receipt of request %s, not of %s", st.Predicate.RequestID, wantRequest)
			}
			if wantDecision != "" && st.Predicate.Decision != wantDecision {
				return fmt.Errorf("the receipt verifies, but it attests the decision %q (status %s, version %d), not %q",
					st.Predicate.Decision, st.Predicate.Status, st.Predicate.Version, wantDecision)
			}
			payloadOK := ""
			if payloadFile != "" {
				p, err := a.readNamed(payloadFile, "payload")
				if err != nil {
					return err
				}
				if err := receipt.CheckPayload(st, p); err != nil {
					return fmt.Errorf("the receipt verifies, but %s: %w", payloadFile, err)
				}
				payloadOK = payloadFile
			}
			return a.emitStatement(st, keyID, from, payloadOK)
		},
	}
	cmd.Flags().StringVar(&keyFile, "key", "", "verify offline with the keys of `FILE`: a JWKS, or PEM PUBLIC KEY / PRIVATE KEY blocks")
	cmd.Flags().StringVar(&payloadFile, "payload", "", "check that the JSON of `FILE` is the request's payload (RFC 8785 SHA-256)")
	cmd.Flags().StringVar(&wantRequest, "request", "", "check that the receipt is of the request `ID`")
	cmd.Flags().StringVar(&wantDecision, "decision", "", "check that the receipt attests the `decision` (approved, rejected, cancelled, expired or revoked)")
	return cmd
}

// readNamed reads file (standard input for "-"), naming what it is in
// an error.
func (a *app) readNamed(file, what string) ([]byte, error) {
	b, err := a.readInput(file)
	if err != nil {
		return nil, fmt.Errorf("reading the %s from %s: %w", what, file, err)
	}
	return b, nil
}

// receiptKeys returns the key set of --key FILE, else the server's, and
// says where it came from.
func (a *app) receiptKeys(keyFile string) (receipt.KeySet, string, error) {
	if keyFile != "" {
		b, err := a.readNamed(keyFile, "keys")
		if err != nil {
			return receipt.KeySet{}, "", err
		}
		var ks receipt.KeySet
		if trimmed := bytes.TrimSpace(b); len(trimmed) > 0 && trimmed[0] == '{' {
			ks, err = receipt.ParseJWKS(b)
		} else {
			ks, err = receipt.ParsePublicKeys(b)
		}
		if err != nil {
			return receipt.KeySet{}, "", fmt.Errorf("the keys of %s: %w", keyFile, err)
		}
		return ks, "the keys of " + keyFile, nil
	}
	cl, err := a.client()
	if err != nil {
		return receipt.KeySet{}, "", fmt.Errorf("no keys: give --key FILE (a JWKS or PEM keys) to verify offline, or the server whose published keys to use (%w)", err)
	}
	b, err := cl.ReceiptKeys(a.ctx)
	if err != nil {
		return receipt.KeySet{}, "", err
	}
	ks, err := receipt.ParseJWKS(b)
	if err != nil {
		return receipt.KeySet{}, "", fmt.Errorf("the keys %s publishes: %w", cl.BaseURL(), err)
	}
	return ks, "the keys of " + cl.BaseURL() + "/.well-known/approvald/keys", nil
}

// verifiedReceipt is what -o json and -o yaml print for a verified receipt.
type verifiedReceipt struct {
	Verified    bool              `json:"verified"`
	KeyID       string            `json:"key_id"`
	Keys        string            `json:"keys"`
	PayloadFile string            `json:"payload_checked,omitempty"`
	Statement   receipt.Statement `json:"statement"`
}

// emitStatement prints a verified statement: a summary for a person, or
// the statement with the key that signed it as JSON or YAML.
func (a *app) emitStatement(st receipt.Statement, keyID, from, payloadFile string) error {
	p := st.Predicate
	doc, err := json.Marshal(verifiedReceipt{Verified: true, KeyID: keyID, Keys: from, PayloadFile: payloadFile, Statement: st})
	if err != nil {
		return err
	}
	return a.emit(doc, func(t *table) {
		kv := func(k, v string) { t.row(k+":", v) }
		kv("Verified", "signed by key "+keyID+" ("+from+")")
		kv("Request", p.RequestID)
		kv("Version", fmt.Sprint(p.Version))
		kv("Decision", p.Decision)
		kv("Status", p.Status)
		if p.DecidedAt != nil {
			kv("Decided at", p.DecidedAt.UTC().Format(time.RFC3339))
		}
		policy := p.PolicySHA256
		if p.PolicySource != "" {
			policy += " (" + p.PolicySource + ")"
		}
		kv("Policy SHA-256", policy)
		if len(p.Reviews) == 0 {
			kv("Reviews", "none")
		}
		for i, rv := range p.Reviews {
			line := rv.Decision + " by " + rv.Reviewer
			if rv.By != "" {
				line += " (reviewed by " + rv.By + ")"
			}
			line += " at " + rv.At.UTC().Format(time.RFC3339) + fmt.Sprintf(", version %d", rv.Version)
			if rv.Void {
				line += ", void"
			}
			if rv.Comment != "" {
				line += ": " + oneLine(rv.Comment, 80)
			}
			label := ""
			if i == 0 {
				label = "Reviews:"
			}
			t.row(label, line)
		}
		if rv := p.Revocation; rv != nil {
			kv("Revoked", "by "+rv.By+" at "+rv.At.UTC().Format(time.RFC3339)+": "+oneLine(rv.Reason, 80))
		}
		for i, s := range st.Subject {
			algs := make([]string, 0, len(s.Digest))
			for alg := range s.Digest {
				algs = append(algs, alg)
			}
			sort.Strings(algs)
			var digests []string
			for _, alg := range algs {
				digests = append(digests, alg+":"+s.Digest[alg])
			}
			label := ""
			if i == 0 {
				label = "Subjects:"
			}
			t.row(label, s.Name+"  "+strings.Join(digests, " "))
		}
		if payloadFile != "" {
			kv("Payload", payloadFile+" matches the payload digest")
		}
	}, func() []string { return []string{p.RequestID} })
}
