package gateway

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"approvald/approval"
)

// checkForwarded checks one request an upstream got: the method, path,
// the upstream's key, JSON, the client's body byte for byte, and none of
// the client's headers.
func checkForwarded(t *testing.T, got received, path, key string, body []byte) {
	t.Helper()
	if got.Method != http.MethodPost || got.Path != path {
		t.Errorf("upstream got %s %s, want POST %s", got.Method, got.Path, path)
	}
	if k := got.Header.Values("X-Api-Key"); len(k) != 1 || k[0] != key {
		t.Errorf("upstream got x-api-key %q, want only %q", k, key)
	}
	if ct := got.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("upstream got Content-Type %q, want application/json", ct)
	}
	for _, h := range []string{"Authorization", "Cookie", "X-Custom", "X-Forwarded-For", "Origin"} {
		if v := got.Header.Values(h); len(v) > 0 {
			t.Errorf("the client's header %s reached the upstream: %q", h, v)
		}
	}
	if !bytes.Equal(got.Body, body) {
		t.Errorf("upstream got body\n%s\nwant byte for byte\n%s", got.Body, body)
	}
}

// postWithClientHeaders posts body like the CLI would, plus headers that
// must not be forwarded.
func postWithClientHeaders(t *testing.T, url string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-api-key", clientKey)
	req.Header.Set("Authorization", "Bearer client-token")
	req.Header.Set("Cookie", "session=abc")
	req.Header.Set("X-Custom", "1")
	req.Header.Set("X-Forwarded-For", "10.0.0.1")
	req.Header.Set("Origin", "https://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	return resp.StatusCode, got
}

func TestValidate_AsksBothServicesAndReturnsTheMetadataPayload(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	body := example(t, "validate.request.json")

	status, got := postWithClientHeaders(t, b.url+RouteValidate, body)

	if status != http.StatusOK {
		t.Fatalf("status = %d, want 200: %s", status, got)
	}
	sameJSON(t, got, example(t, "validate.response.json"))
	pub, meta := b.pub.requests(), b.meta.requests()
	if len(pub) != 1 || len(meta) != 1 {
		t.Fatalf("upstream calls: publish %d, metadata %d; want 1 each", len(pub), len(meta))
	}
	checkForwarded(t, pub[0], "/data-publish/validate", publishKey, body)
	checkForwarded(t, meta[0], "/metadata/project", metadataKey, body)
}

func TestPackage_ForwardsTheBodyByteForByte(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for name, body := range map[string][]byte{
		"example": example(t, "package.request.json"),
		// Unknown keys, number formats, escapes and whitespace must all
		// reach the upstream untouched, and so do keys that differ only in
		// case below the top level: the upstreams read them as different
		// keys. (Duplicate keys are refused: see
		// TestBody_AmbiguousOrTooDeepIs422.)
		"unusual": []byte(" {\"project_name\" : \"Pr\\u0030\\u00304\",\t\"project_start_time\":\"20250205_010101\",\n" +
			"\"port\": 5432.0, \"big\": 12345678901234567890123, \"exp\": 1E+2, \"neg\": -0.0,\"x-unknown\":{\"a\":[1,2,{}]}," +
			"\"destination\":{\"type\":\"filestore\",\"name\":\"LSC\",\"format\":\"csv\"},\"emoji\":\"\\ud83d\\ude00 é <&>\"," +
			"\"nested\":{\"Dup\":1,\"dup\":2}}\r\n"),
	} {
		t.Run(name, func(t *testing.T) {
			before := len(b.pub.requests())
			status, got := postWithClientHeaders(t, b.url+RoutePackage, body)
			if status != http.StatusOK {
				t.Fatalf("status = %d, want 200: %s", status, got)
			}
			sameJSON(t, got, example(t, "package.response.json"))
			reqs := b.pub.requests()
			if len(reqs) != before+1 {
				t.Fatalf("publish service got %d calls, want 1", len(reqs)-before)
			}
			checkForwarded(t, reqs[before], "/data-publish/package", publishKey, body)
		})
	}
	if n := len(b.meta.requests()); n != 0 {
		t.Errorf("package called the metadata service %d times", n)
	}
}

func TestPublish_ReturnsThePublishPayload(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	body := example(t, "publish.request.json")

	status, got := postWithClientHeaders(t, b.url+RoutePublish, body)

	if status != http.StatusOK {
		t.Fatalf("status = %d, want 200: %s", status, got)
	}
	sameJSON(t, got, example(t, "publish.response.json"))
	reqs := b.pub.requests()
	if len(reqs) != 1 {
		t.Fatalf("publish service got %d calls, want 1", len(reqs))
	}
	checkForwarded(t, reqs[0], "/data-publish/publish", publishKey, body)
}

func TestSuccess_UpstreamBodyWithoutPayloadIsReturnedWhole(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for _, upstream := range []string{`{"data_retrieved": [{"file_path": "a.csv"}]}`, `[1, 2]`, `"ok"`, `null`} {
		b.pub.setRespond(answer(http.StatusCreated, "\n"+upstream+"\n"))
		status, got := b.post(t, RoutePackage, clientKey, example(t, "package.request.json"))
		if status != http.StatusOK {
			t.Errorf("upstream 201 %s: status = %d, want exactly 200", upstream, status)
		}
		if want := `{"status":"success","payload":` + upstream + `}`; string(got) != want {
			t.Errorf("upstream %s: body = %s, want %s", upstream, got, want)
		}
	}
}

func TestSuccess_PayloadIsPassedOnUnchanged(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.pub.setRespond(answer(http.StatusOK, `{"status":"success","payload": {"n": 1.50, "s": "<&>"} , "extra": 1}`))
	_, got := b.post(t, RoutePackage, clientKey, example(t, "package.request.json"))
	if want := `{"status":"success","payload":{"n": 1.50, "s": "<&>"}}`; string(got) != want {
		t.Errorf("body = %s, want %s", got, want)
	}
}

func TestAuth_MissingOrWrongKeyIs403(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for _, route := range []string{RouteValidate, RoutePackage, RoutePublish} {
		for _, key := range []string{"", "wrong", clientKey + "x", clientKey[:5]} {
			status, got := b.post(t, route, key, example(t, "package.request.json"))
			wantError(t, status, got, http.StatusForbidden, "Could not validate API key. Please provide a valid API key in the header.")
		}
	}
	if n := len(b.pub.requests()) + len(b.meta.requests()); n != 0 {
		t.Errorf("unauthenticated calls reached the upstreams %d times", n)
	}
}

func TestAuth_NoConfiguredKeyAcceptsNoEmptyKey(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config, _ *Deps) { c.APIKey = "" })
	for _, key := range []string{"", " ", "anything"} {
		status, got := b.post(t, RoutePackage, key, example(t, "package.request.json"))
		wantError(t, status, got, http.StatusForbidden, detailForbidden)
	}
}

func TestAuth_OtherKeysGoToAuthenticate(t *testing.T) {
	t.Parallel()
	b := setup(t, func(_ *Config, d *Deps) {
		d.Authenticate = func(_ context.Context, key string) (approval.Principal, error) {
			switch key {
			case "native-key":
				return approval.Principal{ID: "svc:pipeline"}, nil
			case "no-scope":
				return approval.Principal{}, approval.Errorf(approval.KindForbidden, approval.CodeMissingScope, "no gateway scope")
			case "db-down":
				return approval.Principal{}, errors.New("database is down")
			}
			return approval.Principal{}, approval.Errorf(approval.KindUnauthenticated, approval.CodeUnauthenticated, "bad key")
		}
	})
	body := example(t, "package.request.json")

	status, got := b.post(t, RoutePackage, "native-key", body)
	if status != http.StatusOK {
		t.Errorf("native key: status = %d, want 200: %s", status, got)
	}
	if c := b.calls.next(t); c.Caller != "svc:pipeline" {
		t.Errorf("native key: caller = %q, want svc:pipeline", c.Caller)
	}
	status, got = b.post(t, RoutePackage, clientKey, body)
	if status != http.StatusOK {
		t.Errorf("configured key: status = %d, want 200: %s", status, got)
	}
	if c := b.calls.next(t); c.Caller != ServicePrincipal.ID {
		t.Errorf("configured key: caller = %q, want %s", c.Caller, ServicePrincipal.ID)
	}
	for _, key := range []string{"no-scope", "unknown"} {
		status, got = b.post(t, RoutePackage, key, body)
		wantError(t, status, got, http.StatusForbidden, detailForbidden)
	}
	status, got = b.post(t, RoutePackage, "db-down", body)
	wantError(t, status, got, http.StatusInternalServerError, detailInternal)
}

func TestBody_AmbiguousOrTooDeepIs422(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	run := `"project_name":"a","project_start_time":"b"`
	for name, c := range map[string]struct{ body, detail string }{
		"duplicate key": {`{` + run + `,"source":{},"source":null}`,
			`The body is ambiguous: the key "source" is given more than once in the object at the top level.`},
		"duplicate nested key": {`{` + run + `,"destination":{"name":"LSC","name":"other"}}`,
			`The body is ambiguous: the key "name" is given more than once in the object at "/destination".`},
		"duplicate required key": {`{"project_name":"a","project_name":"b","project_start_time":"t"}`,
			`The body is ambiguous: the key "project_name" is given more than once in the object at the top level.`},
		"case variant at the top level": {`{` + run + `,"Project_Name":"c"}`,
			`The body is ambiguous: the keys "project_name" and "Project_Name" of the object at the top level differ only in letter case, so they name the same field.`},
		"too deep": {`{` + run + `,"x":` + strings.Repeat("[", 64) + strings.Repeat("]", 64) + `}`,
			`The body is nested more than 64 levels deep, at "/x/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0/0".`},
		"bidi override in the project name": {`{"project_name":"Pay \u202egnp.exe","project_start_time":"b"}`,
			`'project_name' must not contain control or invisible characters (found U+202E at character 5).`},
		"zero-width space in the start time": {`{"project_name":"a","project_start_time":"20250205\u200b_010101"}`,
			`'project_start_time' must not contain control or invisible characters (found U+200B at character 9).`},
	} {
		t.Run(name, func(t *testing.T) {
			status, got := b.post(t, RoutePackage, clientKey, []byte(c.body))
			wantError(t, status, got, http.StatusUnprocessableEntity, "Invalid input provided. Mising required keys or invalid values in the body payload. "+c.detail)
		})
	}
	// Refused before anything is forwarded.
	if n := len(b.pub.requests()); n != 0 {
		t.Errorf("refused bodies reached the publish service %d times", n)
	}
	// Below the top level, keys that differ in case are different keys
	// for the upstreams, and a body 64 levels deep is fine.
	for _, body := range []string{
		`{` + run + `,"x":{"Name":1,"name":2}}`,
		`{` + run + `,"x":` + strings.Repeat("[", 63) + strings.Repeat("]", 63) + `}`,
	} {
		if status, got := b.post(t, RoutePackage, clientKey, []byte(body)); status != http.StatusOK {
			t.Errorf("%.60s…: %d %s", body, status, got)
		}
	}
}

func TestBody_NotAnObjectIs422(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for name, body := range map[string]string{
		"invalid JSON":     `{"project_name": "Pr004",`,
		"array":            `[{"project_name":"Pr004","project_start_time":"20250205_010101"}]`,
		"string":           `"project_name"`,
		"null":             `null`,
		"number":           `42`,
		"empty":            ``,
		"whitespace":       " \n ",
		"two objects":      `{"project_name":"a","project_start_time":"b"} {}`,
		"invalid UTF-8":    "{\"project_name\":\"\xff\",\"project_start_time\":\"b\"}",
		"lone surrogate":   `{"project_name":"\ud800","project_start_time":"b"}`,
		"trailing comma":   `{"project_name":"a","project_start_time":"b",}`,
		"single quotes":    `{'project_name':'a','project_start_time':'b'}`,
		"NaN":              `{"project_name":"a","project_start_time":"b","x":NaN}`,
		"unquoted key":     `{project_name:"a","project_start_time":"b"}`,
		"bare word":        `hello`,
		"object then junk": `{"project_name":"a","project_start_time":"b"}x`,
	} {
		status, got := b.post(t, RoutePackage, clientKey, []byte(body))
		if status != http.StatusUnprocessableEntity || string(got) != errorEnvelope("Invalid input provided. Mising required keys or invalid values in the body payload.") {
			t.Errorf("%s: got %d %s, want 422 with the original's detail", name, status, got)
		}
	}
	if n := len(b.pub.requests()); n != 0 {
		t.Errorf("invalid bodies reached the publish service %d times", n)
	}
}

func TestBody_MissingOrMistypedKeysAre422NamingTheKey(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	const prefix = "Invalid input provided. Mising required keys or invalid values in the body payload. "
	for body, detail := range map[string]string{
		`{}`: "Missing required key: 'project_name'.",
		`{"project_start_time":"20250205_010101","destination":{}}`:           "Missing required key: 'project_name'.",
		`{"project_name":"Pr004"}`:                                            "Missing required key: 'project_start_time'.",
		`{"Project_Name":"Pr004","project_start_time":"x"}`:                   "Missing required key: 'project_name'.",
		`{"project_name":4,"project_start_time":"x"}`:                         "'project_name' must be a string.",
		`{"project_name":"a","project_start_time":null}`:                      "'project_start_time' must be a string.",
		`{"project_name":"a","project_start_time":"b","source":[]}`:           "'source' must be an object.",
		`{"project_name":"a","project_start_time":"b","source":"postgresql"}`: "'source' must be an object.",
		`{"project_name":"a","project_start_time":"b","destination":null}`:    "'destination' must be an object.",
		`{"project_name":"a","project_start_time":"b","destination":"LSC"}`:   "'destination' must be an object.",
	} {
		status, got := b.post(t, RoutePackage, clientKey, []byte(body))
		if want := errorEnvelope(prefix + detail); status != http.StatusUnprocessableEntity || string(got) != want {
			t.Errorf("%s: got %d %s, want 422 %s", body, status, got, want)
		}
	}
}

func TestRouting_UnknownPathIs404WrongMethodIs405(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	host := strings.TrimPrefix(b.url, "http://")

	status, got := do(t, context.Background(), http.MethodPost, b.url+"/project/nope?x=1&y=%20", clientKey, nil)
	wantError(t, status, got, http.StatusNotFound, "Url: http://"+host+"/project/nope?x=1&y=%20. Error: Not Found")

	status, got = do(t, context.Background(), http.MethodPost, b.url+"/project/", "", nil)
	wantError(t, status, got, http.StatusNotFound, "Url: http://"+host+"/project/. Error: Not Found")

	for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions} {
		req, _ := http.NewRequest(method, b.url+RoutePackage, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		wantError(t, resp.StatusCode, got, http.StatusMethodNotAllowed, "Url: http://"+host+RoutePackage+". Error: Method Not Allowed")
		if allow := resp.Header.Get("Allow"); allow != "POST" {
			t.Errorf("%s: Allow = %q, want POST", method, allow)
		}
	}
}

func TestUpstream_UnreachableIs502(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ route, service string }{
		{RoutePackage, "publish"}, {RoutePublish, "publish"}, {RouteValidate, "publish"}, {RouteValidate, "metadata"},
	} {
		t.Run(tc.route+"/"+tc.service, func(t *testing.T) {
			t.Parallel()
			port := closedPort(t)
			b := setup(t, func(c *Config, _ *Deps) {
				if tc.service == "publish" {
					c.PublishHost, c.PublishPort = "127.0.0.1", port
				} else {
					c.MetadataHost, c.MetadataPort = "127.0.0.1", port
				}
			})
			status, got := b.post(t, tc.route, clientKey, example(t, "validate.request.json"))
			wantError(t, status, got, http.StatusBadGateway,
				fmt.Sprintf("Error connecting to the %s service. Base url: http://127.0.0.1:%s/", tc.service, port))
			if c := b.calls.next(t); c.UpstreamStatus != 0 || c.Status != http.StatusBadGateway {
				t.Errorf("recorded upstream %d, status %d; want 0, 502", c.UpstreamStatus, c.Status)
			}
		})
	}
}

// hang answers only when the request is cancelled.
func hang(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

func TestUpstream_TimeoutIs504(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ route, service string }{
		{RoutePackage, "publish"}, {RoutePublish, "publish"}, {RouteValidate, "publish"}, {RouteValidate, "metadata"},
	} {
		t.Run(tc.route+"/"+tc.service, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *Config, _ *Deps) {
				c.Timeout, c.ValidateTimeout = 200*time.Millisecond, 200*time.Millisecond
			})
			u := b.pub
			if tc.service == "metadata" {
				u = b.meta
			}
			u.setRespond(hang)
			host, port := u.hostPort(t)
			status, got := b.post(t, tc.route, clientKey, example(t, "validate.request.json"))
			wantError(t, status, got, http.StatusGatewayTimeout,
				fmt.Sprintf("Error connecting to the %s service. Base url: http://%s:%s/", tc.service, host, port))
		})
	}
}

func TestUpstream_ErrorStatusAndDetailArePassedOn(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for _, tc := range []struct {
		status       int
		body, detail string
	}{
		{422, `{"status": "error", "payload": {"detail": "PublishService: Validation Error: Error 1: Field required: 'destination'"}}`,
			"PublishService: Validation Error: Error 1: Field required: 'destination'"},
		{404, `{"detail":"Not Found"}`, "Not Found"},
		{401, `{"payload":{"other":1},"detail":"top level"}`, "top level"},
		{400, `{"payload":{"detail":["a list"]}}`, `{"payload":{"detail":["a list"]}}`},
		{500, "Internal Server Error", "Internal Server Error"},
		{502, "<html><body>bad gateway</body></html>", "<html><body>bad gateway</body></html>"},
		{503, "", "The publish service answered 503 Service Unavailable with an empty body. Base url: " + baseURL(b.cfg.PublishHost, b.cfg.PublishPort)},
		{409, `[1,2]`, `[1,2]`},
		{302, `{"payload":{"detail":"moved"}}`, "moved"},
	} {
		b.pub.setRespond(answer(tc.status, tc.body))
		status, got := b.post(t, RoutePackage, clientKey, example(t, "package.request.json"))
		wantError(t, status, got, tc.status, tc.detail)
		if c := b.calls.next(t); c.UpstreamStatus != tc.status || c.Status != tc.status || c.Detail != tc.detail {
			t.Errorf("recorded %+v, want upstream and status %d, detail %q", c, tc.status, tc.detail)
		}
	}
	// The contract's example error passes through unchanged.
	b.pub.setRespond(answer(422, string(example(t, "error.response.json"))))
	status, got := b.post(t, RoutePackage, clientKey, example(t, "package.request.json"))
	if status != 422 {
		t.Errorf("status = %d, want 422", status)
	}
	sameJSON(t, got, example(t, "error.response.json"))
}

func TestUpstream_SuccessThatIsNotJSONIs502(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.pub.setRespond(answer(http.StatusOK, "<html>oops</html>"))
	status, got := b.post(t, RoutePackage, clientKey, example(t, "package.request.json"))
	wantError(t, status, got, http.StatusBadGateway,
		"The publish service answered with a body that is not JSON. Base url: "+baseURL(b.cfg.PublishHost, b.cfg.PublishPort))
}

func TestValidate_FailsWhenEitherServiceFails(t *testing.T) {
	t.Parallel()
	pubErr := answer(http.StatusBadRequest, `{"status":"error","payload":{"detail":"publish says no"}}`)
	metaErr := answer(http.StatusUnprocessableEntity, `{"status":"error","payload":{"detail":"metadata says no"}}`)
	for _, tc := range []struct {
		name          string
		pub, meta     http.HandlerFunc
		status        int
		detail        string
		upstreamCalls int
	}{
		{"publish fails", pubErr, nil, 400, "publish says no", 2},
		{"metadata fails", nil, metaErr, 422, "metadata says no", 2},
		{"both fail: publish is reported", pubErr, metaErr, 400, "publish says no", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil)
			if tc.pub != nil {
				b.pub.setRespond(tc.pub)
			}
			if tc.meta != nil {
				b.meta.setRespond(tc.meta)
			}
			status, got := b.post(t, RouteValidate, clientKey, example(t, "validate.request.json"))
			wantError(t, status, got, tc.status, tc.detail)
		})
	}
	t.Run("both fail, metadata first: publish is reported", func(t *testing.T) {
		t.Parallel()
		b := setup(t, nil)
		release := make(chan struct{})
		b.meta.setRespond(metaErr) // answers at once
		b.pub.setRespond(func(w http.ResponseWriter, r *http.Request) {
			<-release
			pubErr(w, r)
		})
		go func() { time.Sleep(100 * time.Millisecond); close(release) }()
		status, got := b.post(t, RouteValidate, clientKey, example(t, "validate.request.json"))
		wantError(t, status, got, 400, "publish says no")
	})
}

func TestBody_Over64MiBIs413(t *testing.T) {
	t.Parallel()
	h := mustNew(t, Config{APIKey: clientKey, PublishHost: "127.0.0.1", PublishPort: closedPort(t)}, Deps{})
	detail := "The request body is larger than the limit of 64 MiB (67108864 bytes)."

	t.Run("streamed without a length", func(t *testing.T) {
		t.Parallel()
		body := io.MultiReader(strings.NewReader(`{"project_name":"`), endless('a'))
		req := httptest.NewRequest(http.MethodPost, RoutePackage, body)
		req.ContentLength = -1
		req.Header.Set("x-api-key", clientKey)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		wantError(t, rec.Code, rec.Body.Bytes(), http.StatusRequestEntityTooLarge, detail)
	})
	t.Run("announced by Content-Length, over the network", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		// The gateway answers from the headers alone: no body is sent.
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: gw\r\nx-api-key: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
			RoutePackage, clientKey, MaxBodyBytes+1)
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		wantError(t, resp.StatusCode, got, http.StatusRequestEntityTooLarge, detail)
	})
}

// endless is an io.Reader of the byte c forever, without allocating it.
type endless byte

func (e endless) Read(p []byte) (int, error) {
	if len(p) > 0 {
		p[0] = byte(e)
		for n := 1; n < len(p); n *= 2 {
			copy(p[n:], p[:n])
		}
	}
	return len(p), nil
}
