package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestRun_StartupLogWritesDurationsForPeople: what approvald logs while it
// starts (JSON lines) shows every duration as "1h0m0s", never as the
// nanoseconds slog's JSON handler writes for a time.Duration.
func TestRun_StartupLogWritesDurationsForPeople(t *testing.T) {
	t.Parallel()
	_, logs, stop := startServerLogs(t, map[string]string{
		"APPROVALD_DEBUG_ADDR":       "127.0.0.1:0",
		"APPROVALD_GATEWAY_APPROVAL": "publish",
		"APPROVALD_GATEWAY_TIMEOUT":  "20s",
	})
	stop()
	var lines int
	for line := range strings.Lines(logs.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not a JSON log line: %q", line)
		}
		lines++
		walkLog(t, rec["msg"], "", rec)
		if rec["msg"] == "CR8TOR gateway" {
			cfg, _ := rec["config"].(map[string]any)
			if cfg["timeout"] != "20s" || cfg["validate_timeout"] != "2m0s" {
				t.Errorf("the gateway's timeouts are logged as %v and %v, want \"20s\" and \"2m0s\"", cfg["timeout"], cfg["validate_timeout"])
			}
		}
	}
	if lines < 3 {
		t.Fatalf("only %d log lines:\n%s", lines, logs)
	}
}

// walkLog fails the test for every number of 1,000,000 or more in v: no
// count approvald logs at start is that large, a duration in nanoseconds is.
func walkLog(t *testing.T, msg any, key string, v any) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			walkLog(t, msg, strings.TrimPrefix(key+"."+k, "."), x)
		}
	case []any:
		for _, x := range v {
			walkLog(t, msg, key, x)
		}
	case float64:
		if v >= 1e6 {
			t.Errorf("%q logs %s=%v: a duration in nanoseconds? Log d.String()", msg, key, v)
		}
	}
}
