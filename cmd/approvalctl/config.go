package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

// Config is approvalctl's configuration file: named contexts, each a
// server and a token, and the one in use.
type Config struct {
	CurrentContext string              `yaml:"current-context,omitempty"`
	Contexts       map[string]*Context `yaml:"contexts,omitempty"`
}

// Context is a server and the token to call it with.
type Context struct {
	Server string `yaml:"server"`
	Token  string `yaml:"token,omitempty"`
}

// configPath returns where the configuration file is: $APPROVALCTL_CONFIG,
// else $XDG_CONFIG_HOME/approvalctl/config.yaml, else
// ~/.config/approvalctl/config.yaml.
func configPath(getenv func(string) string) (string, error) {
	if p := getenv("APPROVALCTL_CONFIG"); p != "" {
		return p, nil
	}
	if x := getenv("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "approvalctl", "config.yaml"), nil
	}
	home := getenv("HOME")
	if home == "" {
		return "", errors.New("cannot locate the configuration file: set APPROVALCTL_CONFIG or HOME")
	}
	return filepath.Join(home, ".config", "approvalctl", "config.yaml"), nil
}

// loadConfig reads the configuration file; a missing file is an empty
// configuration. It warns on warn when others may read the file.
func loadConfig(path string, warn func(string)) (*Config, error) {
	c := &Config{Contexts: map[string]*Context{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("configuration file %s: %w", path, err)
	}
	if c.Contexts == nil {
		c.Contexts = map[string]*Context{}
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 && warn != nil {
		warn(fmt.Sprintf("warning: %s holds tokens and others may read it; run: chmod 600 %s", path, path))
	}
	return c, nil
}

// save writes c to path, readable by its owner only, replacing the file
// in one step.
func (c *Config) save(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	b := buf.Bytes()
	tmp, err := os.CreateTemp(filepath.Dir(path), ".config-*.yaml")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// contextNames returns the names of the contexts, sorted.
func (c *Config) contextNames() []string {
	var names []string
	for n := range c.Contexts {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func (a *app) configCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Manage the named contexts (server and token) of the configuration file",
		Long: `Manage the configuration file: named contexts, each a server URL and a token,
and the current one. The file is $APPROVALCTL_CONFIG, else
$XDG_CONFIG_HOME/approvalctl/config.yaml, else ~/.config/approvalctl/config.yaml,
and is written readable by its owner only (mode 0600). Tokens are never printed.

--server and --token override any context; --context NAME picks a context over
APPROVALD_URL and APPROVALD_TOKEN, which override the current context.`,
	}
	var (
		server, token string
		tokenStdin    bool
		use           bool
	)
	set := &cobra.Command{
		Use:   "set-context NAME",
		Short: "Create or change a context",
		Example: `  approvalctl config set-context prod --server https://approvals.example.com --token-stdin < token.txt
  approvalctl config set-context dev --server http://localhost:8000 --token "$ADMIN" --use`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.changeConfig(func(cfg *Config) (string, error) {
				ctx := cfg.Contexts[args[0]]
				if ctx == nil {
					ctx = &Context{}
					cfg.Contexts[args[0]] = ctx
				}
				if cmd.Flags().Changed("server") {
					var err error
					if ctx.Server, err = normalizeServer(server); err != nil {
						return "", err
					}
				}
				if tokenStdin {
					b, err := readAllLimited(a.stdin, 64<<10)
					if err != nil {
						return "", err
					}
					token = strings.TrimSpace(string(b))
				}
				if cmd.Flags().Changed("token") || tokenStdin {
					ctx.Token = token
				}
				if ctx.Server == "" {
					return "", errors.New("a new context needs --server")
				}
				if use || cfg.CurrentContext == "" {
					cfg.CurrentContext = args[0]
				}
				return fmt.Sprintf("context %q set (server %s, token %s)", args[0], ctx.Server, tokenState(ctx.Token)), nil
			})
		},
	}
	set.Flags().StringVar(&server, "server", "", "the server's URL")
	set.Flags().StringVar(&token, "token", "", "the API key or JWT (prefer --token-stdin: flags show in ps and shell history)")
	set.Flags().BoolVar(&tokenStdin, "token-stdin", false, "read the token from standard input")
	set.Flags().BoolVar(&use, "use", false, "make it the current context")

	useCmd := &cobra.Command{
		Use:               "use-context NAME",
		Short:             "Make a context the current one",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: a.completeContexts,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.changeConfig(func(cfg *Config) (string, error) {
				if cfg.Contexts[args[0]] == nil {
					return "", fmt.Errorf("no context %q; the contexts are: %s", args[0], strings.Join(cfg.contextNames(), ", "))
				}
				cfg.CurrentContext = args[0]
				return fmt.Sprintf("switched to context %q", args[0]), nil
			})
		},
	}
	get := &cobra.Command{
		Use:   "get-contexts",
		Short: "List the contexts (tokens are not shown)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, _, err := a.config()
			if err != nil {
				return err
			}
			type row struct {
				Name    string `json:"name"`
				Server  string `json:"server"`
				Token   string `json:"token"`
				Current bool   `json:"current"`
			}
			var rows []row
			for _, n := range cfg.contextNames() {
				c := cfg.Contexts[n]
				rows = append(rows, row{n, c.Server, tokenState(c.Token), n == cfg.CurrentContext})
			}
			return emitRows(a, rows, columns[row]{
				header: []string{"CURRENT", "NAME", "SERVER", "TOKEN"},
				row: func(r row) []string {
					cur := ""
					if r.Current {
						cur = "*"
					}
					return []string{cur, r.Name, r.Server, r.Token}
				},
				name: func(r row) string { return r.Name },
			}, rows)
		},
	}
	current := &cobra.Command{
		Use:   "current-context",
		Short: "Print the name of the current context",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, _, err := a.config()
			if err != nil {
				return err
			}
			if cfg.CurrentContext == "" {
				return errors.New("no current context; set one with: approvalctl config set-context NAME --server URL")
			}
			fmt.Fprintln(a.stdout, cfg.CurrentContext)
			return nil
		},
	}
	del := &cobra.Command{
		Use:               "delete-context NAME",
		Short:             "Remove a context",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: a.completeContexts,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.changeConfig(func(cfg *Config) (string, error) {
				if cfg.Contexts[args[0]] == nil {
					return "", fmt.Errorf("no context %q", args[0])
				}
				delete(cfg.Contexts, args[0])
				if cfg.CurrentContext == args[0] {
					cfg.CurrentContext = ""
				}
				return fmt.Sprintf("context %q deleted", args[0]), nil
			})
		},
	}
	cmd.AddCommand(set, useCmd, get, current, del)
	return cmd
}

// changeConfig loads the configuration file, lets change edit it, saves it,
// and prints the line change returns.
func (a *app) changeConfig(change func(*Config) (string, error)) error {
	cfg, path, err := a.config()
	if err != nil {
		return err
	}
	msg, err := change(cfg)
	if err != nil {
		return err
	}
	if err := cfg.save(path); err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, msg)
	return nil
}

// tokenState says whether a token is set, never what it is.
func tokenState(token string) string {
	if token == "" {
		return "none"
	}
	return "set"
}

func (a *app) completeContexts(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
	cfg, _, err := a.config()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return cfg.contextNames(), cobra.ShellCompDirectiveNoFileComp
}
