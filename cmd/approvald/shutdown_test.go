package main

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
	"time"
)

// SIGTERM with an event stream and a long-poll open: both end at once — the
// stream with a last "retry" line, the long-poll with a 200 and the request
// as it is — and run returns nil long before the shutdown timeout.
func TestShutdown_OpenStreamsAndLongPollsEndPromptly(t *testing.T) {
	t.Parallel()
	base, _, stop := startServerLogs(t, map[string]string{"APPROVALD_ADMIN_KEY": testAdminKey, "APPROVALD_SHUTDOWN_TIMEOUT": "30s"})
	admin := client{t: t, base: base, key: testAdminKey}
	id := admin.must(201, "POST", "/v1/approvals", map[string]any{"title": "waited on"})["id"].(string)

	get := func(path string) *http.Response {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+testAdminKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return nil
		}
		return resp
	}
	stream := get("/v1/events")
	if stream == nil || stream.StatusCode != 200 {
		t.Fatalf("the event stream: %v", stream)
	}
	defer stream.Body.Close()
	lines := bufio.NewScanner(stream.Body)
	lines.Scan() // the stream's opening comment

	polled := make(chan *http.Response, 1)
	go func() { polled <- get("/v1/approvals/" + id + "?wait=50s&after_version=1") }()
	time.Sleep(200 * time.Millisecond) // the long-poll is waiting

	start := time.Now()
	stop() // fails the test if run returns an error
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the shutdown took %s with a stream and a long-poll open", took)
	}
	select {
	case resp := <-polled:
		if resp == nil || resp.StatusCode != 200 {
			t.Errorf("the long-poll's answer at shutdown: %v", resp)
		} else {
			resp.Body.Close()
		}
	case <-time.After(5 * time.Second):
		t.Error("the long-poll got no answer")
	}
	var rest []string
	for lines.Scan() {
		rest = append(rest, lines.Text())
	}
	if !strings.Contains(strings.Join(rest, "\n"), "retry: ") {
		t.Errorf("the event stream ended without a retry line: %q", rest)
	}
}
