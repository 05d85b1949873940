// Package gateway serves the CR8TOR "Approval Service" routes —
// POST /project/validate, /project/package and /project/publish — as a
// wire-compatible, drop-in replacement of the original: the same
// x-api-key check, the same {"status","payload"} envelopes and error
// details (the original's spelling "Mising" included), and the request
// body forwarded byte for byte to the Metadata and Publish services.
//
// Beyond the original, and each behind a small interface so that the
// wiring in cmd/ decides how it is kept:
//
//   - one package or publish at a time per project run (a Locker; 409 for
//     the second caller instead of two jobs racing on one staging folder);
//   - an optional approval step (an ApprovalStep): a successful package
//     opens an approval request and publish is forwarded only once that
//     request is approved (403 otherwise). When the Publish service
//     reports every staged file with its SHA-512 and size, the files are
//     the request's items, and publish also needs every file approved; a
//     revoked approval refuses publish with its reason, and a request sent
//     back for changes is not approved yet;
//   - a record of every call (a Recorder): who, which run, which route,
//     the upstream's and our status, how long it took.
//
// Upstream failures keep the original's details but get honest statuses:
// 502 when a service cannot be reached, 504 when it does not answer in
// time, and the upstream's own status when it answers with an error.
// The wire contract is described in docs/migrating-from-cr8tor.md; its
// example bodies are in testdata/cr8tor.
package gateway
