package approval

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// chainOf returns the chain of a request made by alice and commented on n
// times, as the store would return it.
func chainOf(t *testing.T, id string, comments int) HistoryChain {
	t.Helper()
	r, ch, err := New(id, Draft{Title: "Pay invoice 42"}, alice, Mandate{Policy: DefaultPolicy(), Source: "default"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	entries := []HistoryEntry{ch.Entry}
	for i := range comments {
		c, err := r.Edit(alice, Patch{Comment: Some(fmt.Sprint("comment ", i))}, nil, t0.Add(time.Duration(i+1)*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, c.Entry)
	}
	return HistoryChain{RequestID: r.ID, Version: r.Version, Head: r.HistoryHead, Entries: entries}
}

func TestHistoryChainVerify_IntactChainVerifies(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 5} {
		if err := chainOf(t, "0190a4e0-0000-7000-8000-000000000001", n).Verify(); err != nil {
			t.Errorf("a chain of %d entries: %v", n+1, err)
		}
	}
}

func TestHistoryChainVerify_NamesWhatWasTamperedWith(t *testing.T) {
	t.Parallel()
	const id = "0190a4e0-0000-7000-8000-000000000001"
	for _, tc := range []struct {
		name   string
		tamper func(c *HistoryChain)
		want   string
	}{
		{"an entry's changes rewritten", func(c *HistoryChain) { c.Entries[1].Changes = json.RawMessage(`{}`) },
			"entry 2: hash does not match its contents"},
		{"the newest entry deleted", func(c *HistoryChain) { c.Entries = c.Entries[:2] },
			"the history ends at entry 2 but the request is at version 3: entries are missing"},
		{"the newest entries deleted and the head moved back", func(c *HistoryChain) {
			c.Entries, c.Head = c.Entries[:1], c.Entries[0].Hash
		}, "the history ends at entry 1 but the request is at version 3"},
		{"the newest entry rewritten with its hash recomputed", func(c *HistoryChain) {
			c.Entries[2].Actor = "user:mallory"
			c.Entries[2].Hash = c.Entries[2].ComputeHash()
		}, "the hash of entry 3, the last, is not the request's history head"},
		{"a middle entry deleted", func(c *HistoryChain) { c.Entries = slices.Delete(c.Entries, 1, 2) },
			"entry 2: sequence number is 3, want 2"},
		{"every entry deleted", func(c *HistoryChain) { c.Entries = nil }, "the request has no history entries"},
		{"another request's chain", func(c *HistoryChain) { c.RequestID = "0190a4e0-0000-7000-8000-000000000002" },
			"entry 1: belongs to request " + id},
	} {
		c := chainOf(t, id, 2)
		tc.tamper(&c)
		if err := c.Verify(); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: Verify() = %v, want an error starting %q", tc.name, err, tc.want)
		}
	}
}

func TestVerification_CountsEveryChainAndListsTheFirstFailures(t *testing.T) {
	t.Parallel()
	var v Verification
	if !v.Verified() {
		t.Error("a verification that checked nothing is not verified")
	}
	good := chainOf(t, "0190a4e0-0000-7000-8000-000000000001", 1)
	bad := chainOf(t, "0190a4e0-0000-7000-8000-000000000002", 1)
	bad.Entries = bad.Entries[:1]
	v.Add(good)
	for range MaxVerifyFailures + 5 {
		v.Add(bad)
	}
	v.Add(good)
	if v.Verified() || v.Requests != MaxVerifyFailures+7 || v.Entries != 2*2+MaxVerifyFailures+5 ||
		v.FailuresTotal != MaxVerifyFailures+5 || len(v.Failures) != MaxVerifyFailures {
		t.Errorf("verified %v, %d requests, %d entries, %d failures listed of %d; want false, %d, %d, %d of %d",
			v.Verified(), v.Requests, v.Entries, len(v.Failures), v.FailuresTotal,
			MaxVerifyFailures+7, 2*2+MaxVerifyFailures+5, MaxVerifyFailures, MaxVerifyFailures+5)
	}
	if f := v.Failures[0]; f.RequestID != bad.RequestID || !strings.Contains(f.Error, "entries are missing") {
		t.Errorf("first failure = %+v", f)
	}
}

func TestVerification_JSONHasVerdictAndEmptyFailures(t *testing.T) {
	t.Parallel()
	var v Verification
	v.Add(chainOf(t, "0190a4e0-0000-7000-8000-000000000001", 0))
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"verified":true,"requests":1,"entries":1,"failures":[],"failures_total":0}`; string(b) != want {
		t.Errorf("JSON = %s, want %s", b, want)
	}
	if b, _ := json.Marshal(&v); !strings.HasPrefix(string(b), `{"verified":true,`) {
		t.Errorf("JSON of a pointer = %s", b)
	}
}

func TestActions_EveryActionHasAnEvent(t *testing.T) {
	t.Parallel()
	if len(Actions()) != len(eventOf) {
		t.Errorf("Actions() has %d actions, eventOf %d", len(Actions()), len(eventOf))
	}
	for _, a := range Actions() {
		if _, ok := eventOf[a]; !ok || !ValidAction(a) {
			t.Errorf("action %s: no event, or not valid", a)
		}
	}
	if ValidAction("approved") || ValidAction("") {
		t.Error("ValidAction accepts what is not an action")
	}
}
