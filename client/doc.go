// Package client is the Go client of approvald's native HTTP API (v1): typed
// requests and answers for every route of the OpenAPI document, errors as
// [*Error] values carrying the problem's stable code, retries with backoff
// for the calls that are safe to repeat, and [Client.Wait], which blocks
// until a request is decided.
//
// A service that needs a human in the loop asks and waits:
//
//	c, err := client.New("https://approvals.example.com", client.WithToken(os.Getenv("APPROVALD_TOKEN")))
//	if err != nil {
//		return err
//	}
//	req, err := c.Create(ctx, client.CreateRequest{
//		Title:   "Deploy api 1.4.2 to production",
//		Payload: json.RawMessage(`{"service":"api","version":"1.4.2"}`),
//	})
//	if err != nil {
//		return err
//	}
//	req, err = c.Wait(ctx, req.ID) // long-polls until approved, rejected, cancelled, expired or error
//	if err != nil {
//		return err
//	}
//	if req.Status != client.StatusApproved {
//		return fmt.Errorf("deploy not approved: %s", req.Status)
//	}
//
// # Errors
//
// A refusal of the server is an [*Error] with the HTTP status, the problem
// code (such as [CodeInvalidTransition]), the detail and the invalid fields;
// find it with errors.As or [AsError], or test it with [HasCode],
// [IsNotFound] and [IsConflict]. Transport failures are returned as they
// are, wrapped with the method and path.
//
// # Retries
//
// GET, PUT and DELETE calls, and creates (which always carry an
// Idempotency-Key, so the server makes the request at most once), are
// retried after connection errors and 429, 502, 503 and 504 answers, with
// exponential backoff and jitter or after the server's Retry-After; see
// [RetryPolicy]. Reviews, cancels and edits are not retried, except when
// the connection could not even be made.
//
// # Receiving decisions
//
// To receive decisions as webhooks, verify their signatures with the
// approvald/webhook package (webhook.NewVerifier and webhook.Middleware);
// this package does not duplicate it.
package client
