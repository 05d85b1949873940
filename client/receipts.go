package client

import (
	"bytes"
	"context"
	"net/http"
)

// GetReceipt returns the signed receipt of the decided request id as the
// server sends it: the JSON of a DSSE envelope holding an in-toto
// Statement, kept byte for byte so that it can be stored and verified
// later (approvald's package receipt verifies it offline). It returns an
// *Error with code invalid_transition (409) while the request is
// undecided, not_found (404) for no such request, unavailable (503) when
// the server does not issue receipts.
func (c *Client) GetReceipt(ctx context.Context, id string, opts ...CallOption) ([]byte, error) {
	return c.rawDoc(ctx, approvalPath(id)+"/receipt", opts)
}

// ReceiptKeys returns the JSON Web Key Set the server's receipts verify
// with (GET /.well-known/approvald/keys), as sent. It needs no credential;
// it returns an *Error with code unavailable (503) when the server does
// not issue receipts.
func (c *Client) ReceiptKeys(ctx context.Context, opts ...CallOption) ([]byte, error) {
	return c.rawDoc(ctx, "/.well-known/approvald/keys", opts)
}

// ReleaseRecord returns the release record (RO-Crate 1.1 JSON-LD) of the
// decided CR8TOR publication id, as sent. It returns an *Error with code
// not_found (404) for no such request, one that is not a publication, or
// a server that makes no release records, and invalid_transition (409)
// while the request is undecided.
func (c *Client) ReleaseRecord(ctx context.Context, id string, opts ...CallOption) ([]byte, error) {
	return c.rawDoc(ctx, approvalPath(id)+"/release-record", opts)
}

// rawDoc GETs path and returns the body of the 2xx answer as it is,
// without the final newline the server adds.
func (c *Client) rawDoc(ctx context.Context, path string, opts []CallOption) ([]byte, error) {
	_, body, err := c.send(ctx, &call{method: http.MethodGet, path: path, opts: opts})
	if err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(body, []byte("\n")), nil
}
