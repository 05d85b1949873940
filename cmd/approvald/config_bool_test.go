package main

import (
	"io"
	"testing"
)

// Every boolean setting reads the same words: true/1/yes/on and
// false/0/no/off in any case; anything else is a start-up error naming it.
func TestConfig_BooleansReadOneWay(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]bool{"true": true, "1": true, "YES": true, "on": true, "false": false, "0": false, "No": false, "off": false} {
		getenv := func(k string) string { return map[string]string{"APPROVALD_ALLOW_PRIVATE_TARGETS": v}[k] }
		c, err := parseConfig(nil, getenv, io.Discard)
		if err == nil {
			err = c.validate(getenv)
		}
		if err != nil || c.AllowPrivate != want {
			t.Errorf("APPROVALD_ALLOW_PRIVATE_TARGETS=%s: %v, %v; want %v", v, c.AllowPrivate, err, want)
		}
	}
	getenv := func(k string) string { return map[string]string{"APPROVALD_ALLOW_PRIVATE_TARGETS": "maybe"}[k] }
	c, err := parseConfig(nil, getenv, io.Discard)
	if err == nil {
		err = c.validate(getenv)
	}
	if err == nil {
		t.Error("APPROVALD_ALLOW_PRIVATE_TARGETS=maybe was accepted")
	}
}
