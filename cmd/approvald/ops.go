package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"approvald/approval"
	"approvald/store/postgres"
	"approvald/store/sqlite"
	"approvald/store/sqlstore"
)

// commandsHelp ends --help: the operations subcommands, which take the
// server's settings (flags and variables) too.
const commandsHelp = `
Commands (each takes the settings above, --database and --addr above all):
  approvald                   serve (the default)
  approvald migrate           apply the schema migrations to --database and exit
  approvald version [-o json] print the version, commit, Go and schema versions (and --database's, when set)
  approvald backup FILE       copy a SQLite --database, online and consistent, to the new FILE
  approvald healthcheck [URL] exit 0 when the server at URL (default: --addr) answers /readyz with 200
`

// A command is an operations subcommand: it runs with the arguments that
// follow its name and returns, its error making approvald exit non-zero.
type command func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error

// commands are the subcommands by name.
var commands = map[string]command{
	"migrate":     migrateCommand,
	"version":     versionCommand,
	"backup":      backupCommand,
	"healthcheck": healthcheckCommand,
}

// commandConfig reads a subcommand's configuration as the server's, with
// at most max operands; help is flag.ErrHelp after --help.
func commandConfig(name string, args []string, getenv func(string) string, stderr io.Writer, max int) (config, []string, error) {
	var rest []string
	cfg, err := parseConfigArgs(args, getenv, stderr, &rest)
	if err == nil && len(rest) > max {
		err = fmt.Errorf("%s: unexpected arguments: %s", name, strings.Join(rest[max:], " "))
	}
	return cfg, rest, err
}

// migrateCommand applies the embedded migrations to the database and exits:
// for a Kubernetes Job or init container. It refuses a database whose
// schema is newer than this binary knows (the server serves it, with a
// warning: migrations are additive).
func migrateCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, _, err := commandConfig("migrate", args, getenv, stderr, 0)
	if err != nil {
		return helpIsNoError(err)
	}
	store, err := openStore(ctx, cfg)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if newer := store.SchemaNewer(); newer != nil {
		store.Close()
		return fmt.Errorf("migrate: %w", schemaError(newer))
	}
	if err := store.Close(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	fmt.Fprintf(stdout, "%s: schema version %d\n", redactDatabase(cfg.Database), schemaVersion(cfg.Database))
	return nil
}

// schemaVersion is the schema version this binary brings for the database
// at url: the highest embedded migration of its store.
func schemaVersion(url string) int64 {
	if strings.HasPrefix(url, "sqlite:") {
		return sqlite.SchemaVersion()
	}
	return postgres.SchemaVersion()
}

// versionInfo is what approvald version prints.
type versionInfo struct {
	Version  string `json:"version"`
	Commit   string `json:"commit,omitempty"`
	Time     string `json:"time,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
	Schema   struct {
		SQLite   int64 `json:"sqlite"`
		Postgres int64 `json:"postgres"`
	} `json:"schema"`
	Database *struct {
		URL    string `json:"url"`
		Schema int64  `json:"schema"`
	} `json:"database,omitempty"`
}

// versionCommand prints the build's version and VCS stamp, the Go version,
// the schema versions this binary brings, and, when --database (or
// APPROVALD_DATABASE) is set, the database's; -o json prints them as JSON.
func versionCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	args, output, err := outputFormat(args)
	if err != nil {
		return err
	}
	cfg, _, err := commandConfig("version", args, getenv, stderr, 0)
	if err != nil {
		return helpIsNoError(err)
	}
	v := versionInfo{Version: buildVersion(), Go: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Commit = s.Value
			case "vcs.time":
				v.Time = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	v.Schema.SQLite, v.Schema.Postgres = sqlite.SchemaVersion(), postgres.SchemaVersion()
	if flagGiven(args, "database") || getenv("APPROVALD_DATABASE") != "" {
		current, err := databaseVersion(ctx, cfg.Database)
		if err != nil {
			return fmt.Errorf("version: %s: %w", redactDatabase(cfg.Database), plain(err))
		}
		v.Database = &struct {
			URL    string `json:"url"`
			Schema int64  `json:"schema"`
		}{redactDatabase(cfg.Database), current}
	}
	if output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	fmt.Fprintf(stdout, "approvald %s\n", v.Version)
	if v.Commit != "" {
		modified := ""
		if v.Modified {
			modified = " (modified)"
		}
		fmt.Fprintf(stdout, "commit:   %s%s\n", v.Commit, modified)
	}
	if v.Time != "" {
		fmt.Fprintf(stdout, "time:     %s\n", v.Time)
	}
	fmt.Fprintf(stdout, "go:       %s\n", v.Go)
	fmt.Fprintf(stdout, "schema:   sqlite %d, postgres %d\n", v.Schema.SQLite, v.Schema.Postgres)
	if v.Database != nil {
		fmt.Fprintf(stdout, "database: %s at schema version %d\n", v.Database.URL, v.Database.Schema)
	}
	return nil
}

// outputFormat takes -o/--output FORMAT (text or json) out of args.
func outputFormat(args []string) (rest []string, format string, err error) {
	format = "text"
	for i := 0; i < len(args); i++ {
		name, value, hasValue := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if !strings.HasPrefix(args[i], "-") || name != "o" && name != "output" {
			rest = append(rest, args[i])
			continue
		}
		if !hasValue {
			if i+1 == len(args) {
				return nil, "", errors.New("version: -o needs a format: text or json")
			}
			i++
			value = args[i]
		}
		if value != "text" && value != "json" {
			return nil, "", fmt.Errorf("version: -o %q: use text or json", value)
		}
		format = value
	}
	return rest, format, nil
}

// flagGiven reports whether args set the flag name.
func flagGiven(args []string, name string) bool {
	for _, a := range args {
		n, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && n == name {
			return true
		}
	}
	return false
}

// databaseVersion returns the schema version of the database at url,
// without migrating it.
func databaseVersion(ctx context.Context, url string) (int64, error) {
	if strings.HasPrefix(url, "sqlite:") {
		path, err := sqlitePath(url)
		if err != nil {
			return 0, err
		}
		return sqlite.DatabaseVersion(ctx, path)
	}
	return postgres.DatabaseVersion(ctx, url)
}

// backupCommand copies a SQLite database, online, to a new file (see
// sqlite.Backup). PostgreSQL is backed up with pg_dump.
func backupCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, rest, err := commandConfig("backup", args, getenv, stderr, 1)
	if err != nil {
		return helpIsNoError(err)
	}
	if len(rest) != 1 || rest[0] == "" {
		return errors.New("backup: name the FILE to write: approvald backup FILE")
	}
	if !strings.HasPrefix(cfg.Database, "sqlite:") {
		return fmt.Errorf("backup: %s is not a SQLite database; back PostgreSQL up with pg_dump -Fc and restore it with pg_restore (docs/deploy.md, Backups)", redactDatabase(cfg.Database))
	}
	path, err := sqlitePath(cfg.Database)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := sqlite.Backup(ctx, path, rest[0]); err != nil {
		return fmt.Errorf("backup: %w", plain(err))
	}
	fmt.Fprintf(stdout, "backed up %s to %s in %s\n", cfg.Database, rest[0], time.Since(start).Round(time.Millisecond))
	return nil
}

// healthcheckTimeout is how long healthcheck waits for /readyz.
const healthcheckTimeout = 3 * time.Second

// healthcheckCommand asks a running server's /readyz, at URL or else at
// --addr, and succeeds on 200: a container health check that needs no
// shell or curl in the image.
func healthcheckCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, rest, err := commandConfig("healthcheck", args, getenv, stderr, 1)
	if err != nil {
		return helpIsNoError(err)
	}
	target := readyzURL(cfg.Addr)
	if len(rest) == 1 {
		u, err := url.Parse(rest[0])
		if err != nil || u.Scheme == "" || u.Host == "" {
			return fmt.Errorf("healthcheck: %q is not an http:// or https:// URL", rest[0])
		}
		if u.Path == "" || u.Path == "/" {
			u.Path = "/readyz"
		}
		target = u.String()
	}
	ctx, cancel := context.WithTimeout(ctx, healthcheckTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s: %s %s", target, resp.Status, strings.TrimSpace(string(body)))
	}
	fmt.Fprintf(stdout, "%s: %s\n", target, resp.Status)
	return nil
}

// readyzURL is the /readyz URL of a server listening on addr: on this
// host, by loopback when addr names no host or every interface.
func readyzURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr + "/readyz"
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/readyz"
}

// helpIsNoError returns nil for flag.ErrHelp (the help is written), and
// err otherwise.
func helpIsNoError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

// schemaError returns the cause of a store's error when its database's
// schema is newer than this binary knows, so that the message says so
// plainly instead of "internal error"; any other error as it is.
func schemaError(err error) error {
	var ae *approval.Error
	if errors.Is(err, sqlstore.ErrSchemaNewer) && errors.As(err, &ae) && ae.Err != nil {
		return ae.Err
	}
	return err
}

// plain returns the cause of a store's *approval.Error, whose message
// ("internal error") is for API clients, not for an operator; any other
// error as it is. Only an *approval.Error at the top is unwrapped: an error
// wrapping one may have rewritten its message (the PostgreSQL store's
// open errors have the connection string's secrets removed), and its
// cause would repeat them.
func plain(err error) error {
	if ae, ok := err.(*approval.Error); ok && ae.Err != nil {
		return ae.Err
	}
	return err
}
