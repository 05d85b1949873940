package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"approvald/client"
)

// Exit codes. wait (and create --wait) tell the outcome in theirs.
const (
	exitOK       = 0
	exitFailure  = 1 // any command that fails, but wait
	exitRejected = 1
	exitEnded    = 2 // cancelled or expired
	exitWaitErr  = 3 // wait could not tell: error status, timeout, or a failure
)

// exitError ends approvalctl with code, printing err (if not nil) first.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageError marks a mistake in the command line.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }

// waitExitAnnotation marks commands whose every failure exits with
// exitWaitErr, so that a pipeline never reads a failure as "rejected":
// always (wait), or when --wait is given (create).
const (
	waitExitAnnotation = "approvalctl/wait-exit-codes"
	waitExitAlways     = "always"
	waitExitWithFlag   = "with --wait"
)

// waitsForDecision reports whether cmd, run with args, reports a decision
// in its exit code. It looks at the raw arguments, so that a command line
// too wrong to parse still counts.
func waitsForDecision(cmd *cobra.Command, args []string) bool {
	switch cmd.Annotations[waitExitAnnotation] {
	case waitExitAlways:
		return true
	case waitExitWithFlag:
		for _, arg := range args {
			if arg == "--" {
				break
			}
			if arg == "--wait" || (strings.HasPrefix(arg, "--wait=") && arg != "--wait=false") {
				return true
			}
		}
	}
	return false
}

// app is one run of approvalctl: its streams, environment and flags.
type app struct {
	ctx    context.Context
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer

	// global flags
	server, token, contextName, output string
	requestTimeout                     time.Duration

	cl *client.Client
}

// run runs approvalctl with args and returns its exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{ctx: ctx, getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	code := exitFailure
	if cmd != nil && waitsForDecision(cmd, args) {
		code = exitWaitErr
	}
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
		err = ee.err
	}
	if err != nil {
		a.printError(err)
		var ue usageError
		if errors.As(err, &ue) || isCobraUsageError(err) {
			fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
		}
	}
	return code
}

// isCobraUsageError recognises cobra's own command-line errors, which it
// returns as plain errors.
func isCobraUsageError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "requires at most", "flag needs an argument", "invalid argument"} {
		if strings.HasPrefix(msg, p) || strings.Contains(msg, " "+p) {
			return true
		}
	}
	return false
}

// printError prints err for a person: a problem's status, code, detail
// and fields; a hint for an unreachable server or a refused token.
func (a *app) printError(err error) {
	if apiErr := client.AsError(err); apiErr != nil {
		code := apiErr.Code
		if code == "" {
			code = apiErr.Title
		}
		fmt.Fprintf(a.stderr, "error: %d %s: %s\n", apiErr.Status, code, apiErr.Detail)
		for _, f := range apiErr.Errors {
			if line := f.Field + ": " + f.Message; !strings.Contains(apiErr.Detail, line) {
				fmt.Fprintf(a.stderr, "  %s\n", line)
			}
		}
		switch apiErr.Code {
		case client.CodeUnauthenticated:
			fmt.Fprintln(a.stderr, "hint: check --token, APPROVALD_TOKEN or the token of the current context")
		case client.CodeMissingScope:
			fmt.Fprintln(a.stderr, "hint: the token's API key lacks the scope this command needs")
		}
		return
	}
	var opErr *net.OpError
	var urlErr *url.Error
	if errors.As(err, &opErr) || (errors.As(err, &urlErr) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)) {
		cause := err.Error()
		if opErr != nil {
			cause = opErr.Err.Error()
		}
		fmt.Fprintf(a.stderr, "error: cannot reach approvald at %s: %s\n", a.serverForMessages(), cause)
		fmt.Fprintln(a.stderr, "hint: check --server, APPROVALD_URL or the server of the current context, and that approvald runs there")
		return
	}
	fmt.Fprintf(a.stderr, "error: %s\n", err)
}

func (a *app) serverForMessages() string {
	if a.cl != nil {
		return a.cl.BaseURL()
	}
	return a.server
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "approvalctl",
		Short: "approvalctl talks to approvald, the approval service",
		Long: `approvalctl talks to approvald, the approval service: create approval requests,
review them, wait for a decision in a pipeline, follow events, and administer
service rules, policies and API keys.

The server and token come from --server and --token, else the context named
by --context, else APPROVALD_URL and APPROVALD_TOKEN, else the current context
of the configuration file (see "approvalctl config"). Output is a table by default; -o json or -o yaml prints
the API's own JSON (as YAML), and -o name only ids or names.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			switch a.output {
			case "table", "json", "yaml", "name":
				return nil
			}
			return usageError{fmt.Errorf("--output %q is not one of table, json, yaml, name", a.output)}
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&a.server, "server", "", "approvald's URL (default $APPROVALD_URL, else the current context's)")
	pf.StringVar(&a.token, "token", "", "API key or JWT (default $APPROVALD_TOKEN, else the current context's)")
	pf.StringVar(&a.contextName, "context", "", "use this context of the configuration file, over APPROVALD_URL and APPROVALD_TOKEN")
	pf.StringVarP(&a.output, "output", "o", "table", "output format: table, json, yaml or name")
	pf.DurationVar(&a.requestTimeout, "request-timeout", client.DefaultTimeout, "how long one HTTP request may take (0: no limit)")
	_ = root.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json", "yaml", "name"}, cobra.ShellCompDirectiveNoFileComp))
	_ = root.RegisterFlagCompletionFunc("context", a.completeContexts)

	root.AddGroup(&cobra.Group{ID: "requests", Title: "Approval requests:"}, &cobra.Group{ID: "admin", Title: "Administration:"})
	for _, c := range a.approvalCmds() {
		c.GroupID = "requests"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{a.rulesCmd(), a.policiesCmd(), a.keysCmd(), a.channelsCmd(), a.routesCmd(), a.contactsCmd(), a.delegationsCmd(), a.notificationsCmd()} {
		c.GroupID = "admin"
		root.AddCommand(c)
	}
	root.AddCommand(a.configCmd(), a.versionCmd())
	return root
}

// config loads the configuration file and returns it with its path.
func (a *app) config() (*Config, string, error) {
	path, err := configPath(a.getenv)
	if err != nil {
		return nil, "", err
	}
	cfg, err := loadConfig(path, func(msg string) { fmt.Fprintln(a.stderr, msg) })
	return cfg, path, err
}

// client returns the API client, from the flags, the environment and the
// configuration file, in that order.
func (a *app) client() (*client.Client, error) {
	if a.cl != nil {
		return a.cl, nil
	}
	// Flags first; then a context named with --context; then the
	// environment; then the current context.
	server, token := a.server, a.token
	fromContext := func(name string) error {
		cfg, path, err := a.config()
		if err != nil {
			return err
		}
		if name == "" {
			name = cfg.CurrentContext
		}
		if name == "" {
			return nil
		}
		ctx := cfg.Contexts[name]
		if ctx == nil {
			return fmt.Errorf("no context %q in %s", name, path)
		}
		server, token = firstNonEmpty(server, ctx.Server), firstNonEmpty(token, ctx.Token)
		return nil
	}
	if a.contextName != "" {
		if err := fromContext(a.contextName); err != nil {
			return nil, err
		}
	}
	server, token = firstNonEmpty(server, a.getenv("APPROVALD_URL")), firstNonEmpty(token, a.getenv("APPROVALD_TOKEN"))
	if a.contextName == "" && (server == "" || token == "") {
		if err := fromContext(""); err != nil {
			return nil, err
		}
	}
	if server == "" {
		return nil, errors.New("no server: pass --server URL, set APPROVALD_URL, or add a context with: approvalctl config set-context NAME --server URL --token-stdin")
	}
	server, err := normalizeServer(server)
	if err != nil {
		return nil, err
	}
	a.server = server
	cl, err := client.New(server, client.WithToken(token), client.WithUserAgent("approvalctl/"+versionString()), client.WithTimeout(a.requestTimeout))
	if err != nil {
		return nil, err
	}
	a.cl = cl
	return cl, nil
}

// normalizeServer accepts "host:port" for "http://host:port".
func normalizeServer(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s != "" && !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("server %q is not an http or https URL, such as http://localhost:8000", s)
	}
	return strings.TrimSuffix(s, "/"), nil
}

// stderrIsTerminal reports whether progress may be drawn on stderr.
func (a *app) stderrIsTerminal() bool {
	f, ok := a.stderr.(*os.File)
	return ok && term.IsTerminal(int(f.Fd())) && a.getenv("TERM") != "dumb"
}

// readAllLimited reads r to its end, refusing more than max bytes.
func readAllLimited(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("input is larger than %d bytes", max)
	}
	return b, nil
}
