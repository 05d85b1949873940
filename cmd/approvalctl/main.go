// Command approvalctl is the command-line client of approvald: every
// operation of the native API from a terminal, tables for people and JSON
// or YAML for scripts, and "approvalctl wait", which blocks a pipeline until
// a request is decided and tells the outcome in its exit code.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
