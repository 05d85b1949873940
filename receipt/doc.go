// Package receipt makes and checks the signed receipts of decided requests
// (issue 22): an in-toto Statement (v1) whose subjects are the digest of
// the request's canonical payload (RFC 8785), the digests of its items and
// any extra subjects (a CR8TOR publication's files), and whose predicate
// records the decision (the settled outcome and the status, the policy and
// its hash, every review, the item outcome, a revocation, the head of the
// history chain), wrapped in a DSSE envelope signed with Ed25519.
//
// A request has a receipt from the moment it is decided (DecisionOf), and
// the predicate's decision is the same before and after its delivery; a
// later change makes a newer receipt with a higher version, so a verifier
// should prefer the receipt with the highest version.
//
// Keys are named by their RFC 7638 JWK thumbprint (ParseKeys, Thumbprint),
// so that ids need no configuration and can rotate: a Signer signs with
// one key, a KeySet verifies with every public key it holds, and the set
// is published as a JWKS (OKP/Ed25519, kid = the envelope's keyid). Verify
// needs nothing but the envelope and the keys, so a receipt can be checked
// offline; CheckPayload then binds it to a payload one holds. An Issuer is
// what a server holds to issue receipts.
package receipt
