// Package web serves the reviewers' web pages under /ui/: the inbox, a
// page per request with its payload, policy progress, dependencies,
// delivery state and history, the forms that decide, cancel and comment,
// and the admin pages for service rules, API keys and failed deliveries.
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
package web
