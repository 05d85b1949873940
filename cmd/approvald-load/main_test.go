package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"approvald/auth"
	"approvald/engine"
	"approvald/httpapi"
	"approvald/store/sqlite"
)

func TestCheckTarget_RefusesAddressesOffThisMachine(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000"} {
		if err := checkTarget(u, false); err != nil {
			t.Errorf("%s refused: %v", u, err)
		}
	}
	for _, u := range []string{"http://10.0.0.1:8000", "http://192.168.1.1", "ftp://127.0.0.1", "127.0.0.1:8000"} {
		if err := checkTarget(u, false); err == nil {
			t.Errorf("%s accepted", u)
		}
	}
}

func TestRun_DrivesARealServer(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "load.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	keys := auth.NewKeys(st, time.Now)
	admin := "apd_load-test-admin-key-0123456789abcdefghij"
	if err := keys.Bootstrap(ctx, admin, io.Discard); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(httpapi.New(httpapi.Deps{Engine: engine.New(st), Keys: keys, Limits: httpapi.Limits{Rate: -1}}))
	defer srv.Close()

	var out bytes.Buffer
	args := []string{"-url", srv.URL, "-key", admin, "-clients", "2", "-duration", "500ms", "-json"}
	if err := run(ctx, args, func(string) string { return "" }, &out); err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Ops) != 2 || rep.Ops[0].Count == 0 || rep.Ops[1].Count == 0 || rep.Ops[0].Errors+rep.Ops[1].Errors != 0 {
		t.Fatalf("report %+v", rep)
	}
	if rep.Ops[0].P50ms <= 0 || rep.Ops[0].P99ms < rep.Ops[0].P50ms {
		t.Fatalf("percentiles %+v", rep.Ops[0])
	}

	// The read scenarios read what the create run left.
	for _, scenario := range []string{"inbox", "list"} {
		out.Reset()
		args := []string{"-url", srv.URL, "-key", admin, "-clients", "2", "-duration", "300ms", "-json", "-scenario", scenario}
		if err := run(ctx, args, func(string) string { return "" }, &out); err != nil {
			t.Fatal(err)
		}
		var rep Report
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatal(err)
		}
		if len(rep.Ops) != 1 || rep.Ops[0].Name != scenario || rep.Ops[0].Count == 0 || rep.Ops[0].Errors != 0 {
			t.Fatalf("%s report %+v", scenario, rep)
		}
	}
}
