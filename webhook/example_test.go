package webhook_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"approvald/webhook"
)

// A receiver wraps its handler in Middleware and decodes the event once the
// signature has been checked.
func Example() {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // from the endpoint's settings

	v, err := webhook.NewVerifier(secret)
	if err != nil {
		log.Fatal(err)
	}
	receiver := webhook.Middleware(v, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ev, err := webhook.ParseEvent(body)
		if err != nil {
			http.Error(w, "bad event", http.StatusBadRequest)
			return
		}
		var req struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		}
		if err := json.Unmarshal(ev.Data, &req); err != nil {
			http.Error(w, "bad data", http.StatusBadRequest)
			return
		}
		fmt.Printf("%s %s: request %s is %s\n", ev.Type, ev.ID, req.ID, req.Status)
		w.WriteHeader(http.StatusNoContent)
	}))

	// What approvald sends.
	body := []byte(`{"type":"approval.decided","id":"msg_01J","timestamp":"2026-01-02T03:04:05Z","data":{"id":"req_42","status":"approved"}}`)
	r := httptest.NewRequest(http.MethodPost, "/hooks/approvald", bytes.NewReader(body))
	if err := webhook.SetHeaders(r.Header, secret, "msg_01J", time.Now(), body); err != nil {
		log.Fatal(err)
	}
	w := httptest.NewRecorder()
	receiver.ServeHTTP(w, r)
	fmt.Println(w.Code)

	// A replay with an altered body keeps the genuine headers, but its
	// signature no longer matches, so the handler never sees it.
	forged := bytes.Replace(body, []byte("req_42"), []byte("req_43"), 1)
	r2 := httptest.NewRequest(http.MethodPost, "/hooks/approvald", bytes.NewReader(forged))
	r2.Header = r.Header.Clone()
	w = httptest.NewRecorder()
	receiver.ServeHTTP(w, r2)
	fmt.Println(w.Code)

	// Output:
	// approval.decided msg_01J: request req_42 is approved
	// 204
	// 401
}
