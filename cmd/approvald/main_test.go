package main

import (
	"strings"
	"testing"
)

func TestServesProfiles_OnlyWithADebugAddress(t *testing.T) {
	t.Parallel()
	none := func(string) string { return "" }
	for args, want := range map[string]bool{
		"":                                false,
		"--addr :8000":                    false,
		"--debug-addr 127.0.0.1:6060":     true,
		"-debug-addr=127.0.0.1:6060":      true,
		"--debug-addr=":                   false,
		"--database sqlite:debug-addr.db": false,
	} {
		var list []string
		if args != "" {
			list = splitArgs(args)
		}
		if got := servesProfiles(list, none); got != want {
			t.Errorf("%q: %v, want %v", args, got, want)
		}
	}
	if !servesProfiles(nil, func(k string) string { return map[string]string{"APPROVALD_DEBUG_ADDR": ":6060"}[k] }) {
		t.Error("APPROVALD_DEBUG_ADDR was not seen")
	}
}

func splitArgs(s string) []string { return strings.Fields(s) }
