// Package web serves the reviewers' web pages under /ui/: the inbox, a
// page per request with its payload, policy progress, dependencies,
// delivery state, history and, once decided, signed receipt (see
// Receipts), the forms that decide (approve, reject,
// request changes, item by item), cancel, comment, edit and resubmit a
// request sent back, and revoke an approval,
// the admin pages for service rules, API keys, failed deliveries,
// notification channels and routes (with the notifications that failed or
// wait) and contacts, and everyone's delegations and notification
// preferences.
//
// # The review lifecycle
//
// Asking for changes needs a comment, and so do the decisions the request's
// policy names (Policy.RequireComment): the form marks the comment
// required (for one button only, with data-required-for, which app.js
// turns into the required attribute of the button clicked) and the server
// refuses the decision without one before the engine is asked. A request
// with items shows them in a table, with a pair of approve/reject radio
// buttons per item for a reviewer, sent as ReviewInput.Items; once decided,
// its item outcome (approved and rejected items with their digests,
// "partial"). A request sent back shows its requester the reviewers'
// comments, a form that edits only the fields that changed, and the
// resubmit button; the change cycle is shown beside the version. An
// approval may be revoked, with a required reason, by an admin or a
// reviewer of a rule that can_revoke, and the page then says who revoked it,
// when and why. Automatic decisions (by system:policy/<name>) show their
// expression and, folded, the inputs it saw. The inbox's multi-select
// approves or rejects each selected request by itself (engine.Review, with
// the version the list showed) and lists what became of each.
//
// # Receipts
//
// A decided request (receipt.DecisionOf: final or being delivered; not in
// error, where it may still change) shows a "Signed receipt" section when
// Deps.Receipts is set: the decision the receipt attests, the version it
// describes, the signing key's id, a link to download it
// (/ui/requests/{id}/receipt, application/json, saved as
// approval-<id>-receipt.json) and the approvalctl command that verifies it.
// The receipt is issued by the issuer the API uses, so the download is byte
// for byte what GET /v1/approvals/{id}/receipt answers for the same
// version. A CR8TOR publication with files published also links its
// release record (/ui/requests/{id}/release-record, application/ld+json,
// saved as ro-crate-metadata.json), made by Deps.ReleaseRecord. Both
// downloads need the session and scope of the request page (a signed link
// never stands for one) and answer with the UI's error pages: 404 for no
// such request, not a publication or nothing configured, 409 before the
// decision or before anything is published.
//
// Pages are rendered on the server with html/template from embedded
// templates; the little JavaScript there is (live updates over server-sent
// events, and htmx, vendored in static/) only improves pages that work
// without it. There is no build step.
//
// # Sessions
//
// A session is a cookie holding the caller's credential — an API key, a
// pasted JWT, or the token an OpenID Connect sign-in obtained — sealed with
// AES-256-GCM under a server key, with its expiry inside the sealed value.
// Nothing is kept in process memory, so any instance sharing the key
// serves any session. Every request opens the cookie and authenticates the
// credential again with the verifiers the API uses, so a revoked key or an
// expired token ends its session at once. Cookies are HttpOnly,
// SameSite=Strict, Secure (and __Host- prefixed) when the UI is served over
// TLS.
//
// Every form carries a CSRF token, an HMAC of the session id (or, before
// sign-in, of a random pre-session cookie), checked on every POST together
// with the Origin and Sec-Fetch-Site headers. Pages carry a content
// security policy that allows scripts, styles and connections from the
// UI's own origin only.
//
// # Signed links
//
// Notifications link to /ui/requests/{id}?link={token}, a signedlink token
// binding the request, its content digest, the recipient and an expiry.
// The token authenticates nobody: opening the link signed out goes through
// the sign-in and back to the link; signed in, the link is refused when its
// signature does not verify (400), it expired (410), it was sent to another
// principal (403, logged as "signed link used by another principal"), or
// the request's content changed since (409: an edit voided the reviews).
// A session whose sign-in is older than Config.LinkReauthAge signs in again
// first: at the identity provider with prompt=login and max_age (the ID
// token's auth_time must then be recent; an OIDC session counts from the
// provider's auth_time, so a silent sign-in from the provider's own older
// session is not a fresh one), or by giving the API key again. The
// decision form then carries the token, and the review is checked again in
// full before the engine is asked; without a token the request page and its
// forms work as always.
package web
