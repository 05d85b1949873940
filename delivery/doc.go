// Package delivery moves events out of the transactional outbox: the
// Dispatcher delivers decisions and revocations to service rules as signed
// webhooks (approval.decided, approval.revoked, …) or the legacy callback,
// which reports a revocation as rejected (4), the legacy enum having no
// revoked, with retries, backoff and a per-rule concurrency limit;
// the Publisher copies every event to NATS JetStream; the Hub tails the
// outbox for the live event stream and long-polls. None of them ever runs
// inside an HTTP request, and all are safe with several instances on one
// database: work is claimed with leases in the database, so a crashed
// worker's claim simply comes due again.
package delivery
