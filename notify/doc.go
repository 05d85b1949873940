// Package notify tells people about approval requests by email and chat.
//
// Two workers run apart from the decisions they report, so that a slow or
// failing mail server never blocks or fails one:
//
//   - the Planner reads the outbox events that call for a notification
//     (approval.OutboxRecord.Notify), works out who is told — the
//     recipients the domain names (approval.Request.Recipients), their
//     active delegates, the matching routes, the admins for a failed
//     delivery, minus those who muted the kind — and queues one
//     approval.Notification per recipient and address, in the same
//     transaction that marks the events planned;
//   - the Sender claims due notifications per target (channel and
//     address) with a lease, renders them — one message, or a digest when
//     a batching window gathered several — and sends them by SMTP
//     (go-mail), to a Slack-compatible incoming webhook (Block Kit; Mattermost and
//     Rocket.Chat accept the same payload) or to a Microsoft Teams Workflows
//     webhook (Adaptive Card), retrying with backoff.
//
// A crash between claim and send loses nothing: the lease expires and the
// notification is claimed again. A crash after the send and before the
// result is recorded sends it twice; mail and chat have no idempotency key,
// so at-least-once is the guarantee.
//
// Each notification's Data is a Data value (JSON), built when it is
// planned: what the message shows is the request as of the change, and the
// link — with a signed token (package signedlink) for a principal, plain
// for a channel or a group's address:
//
//	{"request_id":"01a2…","version":1,"kind":"review_requested","title":"Deploy billing",
//	 "requester":"user:carol","status":"pending","pending_reason":"waiting for 1 more approval …",
//	 "service_rule":"deploy","recipient":"user:alice",
//	 "url":"https://approvals.example.com/ui/requests/01a2…?link=l1.k1.…","at":"2026-12-07T09:00:00Z"}
//
// Mails about one request thread together: each carries In-Reply-To and
// References of the request's root id, <approval.{id}@{the From domain}>,
// which the first mail (review requested at version 1) uses as its own
// Message-ID.
package notify
