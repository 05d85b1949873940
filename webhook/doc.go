// Package webhook signs and verifies webhooks the way the Standard Webhooks
// specification (https://www.standardwebhooks.com/) describes them.
//
// approvald delivers every decision as an HTTP POST whose body is an [Event]
// and whose headers carry the message id ([HeaderID]), the send time in unix
// seconds ([HeaderTimestamp]) and one or more signatures ([HeaderSignature]).
// A signature is "v1," followed by the base64 HMAC-SHA256 of
// "<id>.<timestamp>.<body>" under the endpoint's secret, which is written
// "whsec_" followed by the base64 key bytes.
//
// approvald uses [Sign] and [SetHeaders] to send. The package imports nothing
// else of approvald so that receivers written in Go can import it to check
// what they get: build a [Verifier] once from the endpoint's secret and either
// call [Verifier.Verify] on the raw body, or wrap the handler in [Middleware]
// and read the body as usual:
//
//	v, err := webhook.NewVerifier(os.Getenv("APPROVALD_WEBHOOK_SECRET"))
//	if err != nil {
//		log.Fatal(err)
//	}
//	http.Handle("POST /hooks/approvald", webhook.Middleware(v, http.HandlerFunc(
//		func(w http.ResponseWriter, r *http.Request) {
//			body, _ := io.ReadAll(r.Body)
//			ev, err := webhook.ParseEvent(body)
//			if err != nil {
//				http.Error(w, "bad event", http.StatusBadRequest)
//				return
//			}
//			// A delivery may be retried, so the same event id can arrive
//			// more than once: handle ev.ID idempotently.
//			handle(ev)
//		})))
//
// Verification checks the signature against the exact bytes received, so
// verify before decoding and never re-encode the body first. The timestamp
// must lie within 5 minutes of the receiver's clock, which bounds how long a
// captured request can be replayed.
package webhook
