// Command approvald is the approval service: the native HTTP API on one
// listener, on an embedded SQLite database by default.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
)

func main() {
	if !servesProfiles(os.Args[1:], os.Getenv) {
		// Heap profiles are served only on --debug-addr; without it,
		// sampling allocations for them costs about 2 MiB under load
		// (docs/performance.md, Memory). Set before anything allocates much.
		runtime.MemProfileRate = 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "approvald:", err)
		os.Exit(1)
	}
}

// servesProfiles reports whether the command line or the environment
// asks for the debug listener, which serves pprof.
func servesProfiles(args []string, getenv func(string) string) bool {
	if getenv("APPROVALD_DEBUG_ADDR") != "" {
		return true
	}
	for _, a := range args {
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && name == "debug-addr" && (!hasValue || value != "") {
			return true
		}
	}
	return false
}
