// Package receipt makes and checks the signed receipts of decided requests
// (issue 22): an in-toto Statement (v1) whose subjects are the digest of
// the request's canonical payload (RFC 8785) and the digests of its items,
// and whose predicate records the decision (the policy and its hash, every
// review, the item outcome, a revocation, the head of the history chain),
// wrapped in a DSSE envelope signed with Ed25519.
//
// Keys are named by id so that they can rotate: a Signer signs with one
// key, a KeySet verifies with every public key it holds, and the set is
// published as a JWKS (OKP/Ed25519, kid = the envelope's keyid). Verify
// needs nothing but the envelope and the keys, so a receipt can be checked
// offline; CheckPayload then binds it to a payload one holds.
package receipt
