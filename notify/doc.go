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
// planned: what the message shows is the request as of the change.
package notify
