package main

import (
	"io"
	"testing"
)

// Every boolean setting reads the same words, from a flag or a variable:
// true/1/yes/on and false/0/no/off in any case; anything else is a
// start-up error naming it.
func TestConfig_BooleansReadOneWay(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]bool{"true": true, "1": true, "YES": true, "on": true, "false": false, "0": false, "No": false, "off": false} {
		c, err := parseConfig(nil, envOf(map[string]string{"APPROVALD_ALLOW_PRIVATE_TARGETS": v}), io.Discard)
		if err != nil || c.AllowPrivate != want {
			t.Errorf("APPROVALD_ALLOW_PRIVATE_TARGETS=%s: %v, %v; want %v", v, c.AllowPrivate, err, want)
		}
		c, err = parseConfig([]string{"--ui=" + v}, envOf(nil), io.Discard)
		if err != nil || c.UI.Enabled != want {
			t.Errorf("--ui=%s: %v, %v; want %v", v, c.UI.Enabled, err, want)
		}
	}
	if c, err := parseConfig([]string{"--allow-private-targets"}, envOf(map[string]string{"APPROVALD_ALLOW_PRIVATE_TARGETS": "false"}), io.Discard); err != nil || !c.AllowPrivate {
		t.Errorf("--allow-private-targets alone: %v, %v; want true", c.AllowPrivate, err)
	}
	if _, err := parseConfig(nil, envOf(map[string]string{"APPROVALD_ALLOW_PRIVATE_TARGETS": "maybe"}), io.Discard); err == nil {
		t.Error("APPROVALD_ALLOW_PRIVATE_TARGETS=maybe was accepted")
	}
}
