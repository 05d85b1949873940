package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"approvald/client"
)

// listSubcmd returns the "list" subcommand of an admin command: it prints
// every item list returns.
func listSubcmd[T interface{ Raw() json.RawMessage }](a *app, short string, list func(*client.Client) ([]T, error), cols columns[T]) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   short,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(a, list, func(items []T) error { return emitRows(a, listOf(items), cols, items) })
		},
	}
}

// getSubcmd returns the "get NAME" subcommand of an admin command: it
// prints the item get returns.
func getSubcmd[T any](a *app, short string, complete cobra.CompletionFunc, get func(cl *client.Client, name string) (T, error), emit func(T) error) *cobra.Command {
	return &cobra.Command{
		Use:               "get NAME",
		Short:             short,
		Args:              argsExactly("NAME"),
		ValidArgsFunction: complete,
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(a, func(cl *client.Client) (T, error) { return get(cl, args[0]) }, emit)
		},
	}
}

// deleteSubcmd returns the "delete NAME" subcommand of an admin command: it
// deletes the named item of kind with del.
func deleteSubcmd(a *app, kind, short string, complete cobra.CompletionFunc, del func(cl *client.Client, name string) error) *cobra.Command {
	return &cobra.Command{
		Use:               "delete NAME",
		Aliases:           []string{"rm"},
		Short:             short,
		Args:              argsExactly("NAME"),
		ValidArgsFunction: complete,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			if err := del(cl, args[0]); err != nil {
				return err
			}
			return a.emitDeleted(kind, args[0])
		},
	}
}

// ---- service rules

func ruleRow(r *client.ServiceRule) []string {
	return []string{r.Name, r.URL, r.Format, r.Timeout, strconv.Itoa(r.MaxAttempts), orDash(r.Policy)}
}

var ruleColumns = columns[*client.ServiceRule]{
	header: []string{"NAME", "URL", "FORMAT", "TIMEOUT", "ATTEMPTS", "POLICY"},
	row:    ruleRow,
	name:   func(r *client.ServiceRule) string { return r.Name },
}

// emitRule prints a rule, and the secret the server generated, if any.
func (a *app) emitRule(r *client.ServiceRule) error {
	err := emitItem(a, ruleColumns, r)
	if err == nil && len(r.Headers) > 0 && a.output == "table" {
		names := make([]string, 0, len(r.Headers))
		for name := range r.Headers {
			names = append(names, name)
		}
		sort.Strings(names)
		fmt.Fprintf(a.stdout, "\nHeaders (values are never shown): %s\n", strings.Join(names, ", "))
	}
	if err == nil && r.Secret != "" && a.output == "table" {
		fmt.Fprintf(a.stdout, "\nSigning secret (shown only now; give it to the receiver): %s\n", r.Secret)
	}
	return err
}

// ruleFlags are the fields of a rule as flags.
type ruleFlags struct {
	url, format, secret, apiKey, timeout, policy string
	maxAttempts                                  int
	headers                                      []string
}

func (f *ruleFlags) register(a *app, cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.url, "url", "", "where decisions are POSTed")
	fl.StringVar(&f.format, "format", "", "standard (Standard Webhooks, the default) or legacy (the stash callback)")
	fl.StringVar(&f.secret, "secret", "", "the signing secret, whsec_… (default: the server makes one and shows it once)")
	fl.StringVar(&f.apiKey, "api-key", "", "legacy format: the Authorization header sent with each delivery")
	fl.StringVar(&f.timeout, "delivery-timeout", "", "how long one delivery attempt may take, such as 10s")
	fl.IntVar(&f.maxAttempts, "max-attempts", 0, "delivery attempts before the request goes to error (1 to 50)")
	fl.StringArrayVar(&f.headers, "header", nil, "a header added to every delivery, Name=value (repeat); on edit the headers given replace the rule's, and Name alone keeps that header's value, which is never shown")
	fl.StringVar(&f.policy, "policy", "", "a stored policy for the rule's requests")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"standard", "legacy"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("policy", a.completePolicies)
}

// headerMap returns the --header values: Name=value sets a header, and, when
// keeping is allowed (on edit), Name alone keeps the value the rule has.
func (f *ruleFlags) headerMap(keeping bool) (map[string]string, []string, error) {
	if f.headers == nil {
		return nil, nil, nil
	}
	m := map[string]string{}
	var keep []string
	for _, h := range f.headers {
		k, v, ok := strings.Cut(h, "=")
		switch {
		case strings.TrimSpace(k) == "" || !ok && !keeping:
			return nil, nil, usageError{fmt.Errorf("--header %q is not Name=value", h)}
		case !ok:
			keep = append(keep, strings.TrimSpace(k))
		default:
			m[strings.TrimSpace(k)] = v
		}
	}
	return m, keep, nil
}

func (a *app) rulesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "rules",
		Aliases: []string{"service-rules", "rule"},
		Short:   "Manage service rules: where decisions are delivered (admin)",
	}
	list := listSubcmd(a, "List the service rules", func(cl *client.Client) ([]*client.ServiceRule, error) {
		return cl.ServiceRules(a.ctx)
	}, ruleColumns)
	get := getSubcmd(a, "Show a service rule", a.completeRules, func(cl *client.Client, name string) (*client.ServiceRule, error) {
		return cl.ServiceRule(a.ctx, name)
	}, a.emitRule)
	var cf ruleFlags
	var file string
	create := &cobra.Command{
		Use:   "create NAME --url URL",
		Short: "Create a service rule; its signing secret is shown once",
		Example: `  approvalctl rules create deploys --url https://ci.example.com/hooks/approvald --delivery-timeout 10s
  approvalctl rules create stash --url https://stash.example.com/callback --format legacy --api-key "$STASH_KEY"`,
		Args: argsExactly("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var in client.CreateServiceRuleRequest
			if file != "" {
				b, err := a.readInput(file)
				if err != nil {
					return err
				}
				if err := decodeDocument(b, &in); err != nil {
					return usageError{fmt.Errorf("%s: %w", file, err)}
				}
			}
			in.Name = args[0]
			in.URL = firstNonEmpty(cf.url, in.URL)
			in.Format = firstNonEmpty(cf.format, in.Format)
			in.Secret = firstNonEmpty(cf.secret, in.Secret)
			in.APIKey = firstNonEmpty(cf.apiKey, in.APIKey)
			in.Timeout = firstNonEmpty(cf.timeout, in.Timeout)
			in.Policy = firstNonEmpty(cf.policy, in.Policy)
			if cf.maxAttempts != 0 {
				in.MaxAttempts = cf.maxAttempts
			}
			h, _, err := cf.headerMap(false)
			if err != nil {
				return err
			}
			if h != nil {
				in.Headers = h
			}
			if in.URL == "" {
				return usageError{fmt.Errorf("a service rule needs --url")}
			}
			return show(a, func(cl *client.Client) (*client.ServiceRule, error) {
				return cl.CreateServiceRule(a.ctx, in)
			}, a.emitRule)
		},
	}
	cf.register(a, create)
	create.Flags().StringVarP(&file, "filename", "f", "", "a JSON or YAML file with the rule's fields")

	var ef ruleFlags
	var rotate bool
	var clear []string
	edit := &cobra.Command{
		Use:               "edit NAME",
		Short:             "Change a service rule, or rotate its signing secret",
		Example:           `  approvalctl rules edit deploys --url https://ci.example.com/v2/hooks --rotate-secret`,
		Args:              argsExactly("NAME"),
		ValidArgsFunction: a.completeRules,
		RunE: func(cmd *cobra.Command, args []string) error {
			var p client.ServiceRulePatch
			ch := cmd.Flags().Changed
			str := func(flag string, v string) *string {
				if ch(flag) {
					return &v
				}
				return nil
			}
			p.URL, p.Format, p.Secret = str("url", ef.url), str("format", ef.format), str("secret", ef.secret)
			p.APIKey, p.Timeout, p.Policy = str("api-key", ef.apiKey), str("delivery-timeout", ef.timeout), str("policy", ef.policy)
			if ch("max-attempts") {
				p.MaxAttempts = &ef.maxAttempts
			}
			var err error
			if p.Headers, p.KeepHeaders, err = ef.headerMap(true); err != nil {
				return err
			}
			p.RotateSecret = rotate
			for _, c := range clear {
				p.Clear = append(p.Clear, strings.ReplaceAll(c, "-", "_"))
			}
			if b, _ := json.Marshal(p); string(b) == "{}" {
				return usageError{fmt.Errorf("nothing to change: give a field flag, --rotate-secret or --clear")}
			}
			return show(a, func(cl *client.Client) (*client.ServiceRule, error) {
				return cl.EditServiceRule(a.ctx, args[0], p)
			}, a.emitRule)
		},
	}
	ef.register(a, edit)
	edit.Flags().BoolVar(&rotate, "rotate-secret", false, "have the server make a new signing secret (shown once)")
	edit.Flags().StringSliceVar(&clear, "clear", nil, "reset these fields to their defaults: api-key, delivery-timeout, max-attempts, headers, policy")
	del := deleteSubcmd(a, "service rule", "Delete a service rule (refused while a request that is not final names it)", a.completeRules,
		func(cl *client.Client, name string) error { return cl.DeleteServiceRule(a.ctx, name) })
	cmd.AddCommand(list, get, create, edit, del)
	return cmd
}

// emitDeleted reports a deletion.
func (a *app) emitDeleted(kind, name string) error { return a.emitDone(kind, name, "deleted") }

// ---- stored policies

func policyRow(p *client.StoredPolicy) []string {
	rules := len(p.Policy.Rules)
	for _, s := range p.Policy.Stages {
		rules += len(s.Rules)
	}
	return []string{p.Name, strconv.FormatInt(p.Version, 10), strconv.Itoa(rules), strconv.Itoa(len(p.Policy.Stages)), truncate(p.Description, 50)}
}

var policyColumns = columns[*client.StoredPolicy]{
	header: []string{"NAME", "VERSION", "RULES", "STAGES", "DESCRIPTION"},
	row:    policyRow,
	name:   func(p *client.StoredPolicy) string { return p.Name },
}

func (a *app) emitPolicy(p *client.StoredPolicy) error {
	return a.emit(p.Raw(), func(t *table) {
		t.header(policyColumns.header...)
		t.row(policyRow(p)...)
		rt := newTable(newIndent(a.stdout))
		_ = t.flush()
		fmt.Fprintln(a.stdout, "Rules:")
		rt.header("STAGE", "RULE", "MIN APPROVALS", "REJECT AT", "PRINCIPALS", "GROUPS")
		add := func(stage string, rules []client.Rule) {
			for _, r := range rules {
				rt.row(stage, r.Name, strconv.Itoa(r.MinApprovals), strconv.Itoa(max(r.RejectThreshold, 1)),
					orDash(strings.Join(r.Principals, ",")), orDash(strings.Join(r.Groups, ",")))
			}
		}
		add("-", p.Policy.Rules)
		for _, s := range p.Policy.Stages {
			add(s.Name, s.Rules)
		}
		_ = rt.flush()
	}, func() []string { return []string{p.Name} })
}

// readPolicyFile reads a stored policy's body: {"description","policy"} or
// just the policy ({"rules":…}).
func (a *app) readPolicyFile(path string) (client.PolicyRequest, error) {
	var in client.PolicyRequest
	b, err := a.readInput(path)
	if err != nil {
		return in, err
	}
	j, err := yamlOrJSON(b)
	if err != nil {
		return in, usageError{fmt.Errorf("%s: %w", path, err)}
	}
	var probe map[string]json.RawMessage
	if json.Unmarshal(j, &probe) == nil && probe["policy"] == nil {
		err = decodeDocument(j, &in.Policy)
	} else {
		err = decodeDocument(j, &in)
	}
	if err != nil {
		return in, usageError{fmt.Errorf("%s: %w", path, err)}
	}
	return in, nil
}

// policyFlags are the flags of a stored policy's create and replace.
type policyFlags struct {
	file, description string
}

func (f *policyFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.file, "filename", "f", "", `the policy, a JSON or YAML file ("-": standard input)`)
	cmd.Flags().StringVar(&f.description, "description", "", "what the policy is for")
	_ = cmd.MarkFlagRequired("filename")
}

// read returns the policy of the file, with the description of the flag
// when cmd was given it.
func (f *policyFlags) read(a *app, cmd *cobra.Command) (client.PolicyRequest, error) {
	in, err := a.readPolicyFile(f.file)
	if err != nil {
		return in, err
	}
	if cmd.Flags().Changed("description") {
		in.Description = f.description
	}
	return in, nil
}

func (a *app) policiesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "policies",
		Aliases: []string{"policy"},
		Short:   "Manage stored review policies: who must approve (admin; anyone may read)",
	}
	list := listSubcmd(a, "List the stored policies", func(cl *client.Client) ([]*client.StoredPolicy, error) {
		return cl.Policies(a.ctx)
	}, policyColumns)
	get := getSubcmd(a, "Show a stored policy and its rules", a.completePolicies, func(cl *client.Client, name string) (*client.StoredPolicy, error) {
		return cl.Policy(a.ctx, name)
	}, a.emitPolicy)
	var (
		pf      policyFlags
		ifMatch int64
	)
	create := &cobra.Command{
		Use:   "create NAME -f FILE",
		Short: "Store a named policy from a JSON or YAML file",
		Long: `Store a named policy. The file (JSON or YAML, "-" for standard input) holds
the policy — {"rules": [...]} or {"stages": [...]} — or {"description", "policy"}.`,
		Example: `  cat > large-payment.yaml <<EOF
  rules:
    - {name: finance, min_approvals: 1, groups: [finance]}
    - {name: cfo, min_approvals: 1, principals: ["user:cfo"]}
  EOF
  approvalctl policies create large-payment -f large-payment.yaml --description "finance and the CFO"`,
		Args: argsExactly("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := pf.read(a, cmd)
			if err != nil {
				return err
			}
			in.Name = args[0]
			return show(a, func(cl *client.Client) (*client.StoredPolicy, error) {
				return cl.CreatePolicy(a.ctx, in)
			}, a.emitPolicy)
		},
	}
	pf.register(create)
	replace := &cobra.Command{
		Use:               "replace NAME -f FILE",
		Short:             "Replace a stored policy (open requests keep their copy)",
		Args:              argsExactly("NAME"),
		ValidArgsFunction: a.completePolicies,
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := pf.read(a, cmd)
			if err != nil {
				return err
			}
			return show(a, func(cl *client.Client) (*client.StoredPolicy, error) {
				return cl.ReplacePolicy(a.ctx, args[0], in, ifMatchOpts(ifMatch)...)
			}, a.emitPolicy)
		},
	}
	pf.register(replace)
	replace.Flags().Int64Var(&ifMatch, "if-match", 0, "replace only if the policy is still at this version")
	del := deleteSubcmd(a, "policy", "Delete a stored policy", a.completePolicies,
		func(cl *client.Client, name string) error { return cl.DeletePolicy(a.ctx, name) })
	cmd.AddCommand(list, get, create, replace, del)
	return cmd
}

// ---- API keys

func keyRow(k *client.APIKey) []string {
	state := "active"
	switch {
	case k.RevokedAt != nil:
		state = "revoked"
	case k.ExpiresAt != nil && k.ExpiresAt.Before(time.Now()):
		state = "expired"
	}
	return []string{k.ID, k.Name, k.Prefix, strings.Join(k.Scopes, ","), orDash(strings.Join(k.Groups, ",")), state, timeOrDash(k.ExpiresAt), timeOrDash(k.LastUsedAt)}
}

var keyColumns = columns[*client.APIKey]{
	header: []string{"ID", "NAME", "PREFIX", "SCOPES", "GROUPS", "STATE", "EXPIRES", "LAST USED"},
	row:    keyRow,
	name:   func(k *client.APIKey) string { return k.ID },
}

// emitKey prints a key; its secret, when the server sent it, is printed
// after the table (or in the JSON).
func (a *app) emitKey(k *client.APIKey) error {
	err := emitItem(a, keyColumns, k)
	if err == nil && k.Key != "" && a.output == "table" {
		fmt.Fprintf(a.stdout, "\nKey (shown only now; its principal is svc:%s): %s\n", k.Name, k.Key)
	}
	return err
}

func (a *app) keysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "keys",
		Aliases: []string{"api-keys", "key"},
		Short:   "Manage API keys (admin)",
	}
	list := listSubcmd(a, "List the API keys (never their secrets)", func(cl *client.Client) ([]*client.APIKey, error) {
		keys, err := cl.APIKeys(a.ctx)
		if err != nil {
			return nil, err
		}
		sort.SliceStable(keys, func(i, j int) bool { return keys[i].CreatedAt.Before(keys[j].CreatedAt) })
		return keys, nil
	}, keyColumns)
	var (
		scopes, groups   []string
		expires, contact string
	)
	create := &cobra.Command{
		Use:   "create NAME --scope SCOPE...",
		Short: "Create an API key; its secret is shown once",
		Long: `Create an API key for a service: its principal is svc:NAME. Scopes:
approvals:create, approvals:review, approvals:read, admin, audit.`,
		Example: `  approvalctl keys create ci --scope approvals:create,approvals:read
  approvalctl keys create finance-lead --scope approvals:review,approvals:read --group finance --expires 720h`,
		Args: argsExactly("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			in := client.CreateAPIKeyRequest{Name: args[0], Scopes: scopes, Groups: groups, Contact: contact}
			if len(in.Scopes) == 0 {
				return usageError{fmt.Errorf("a key needs at least one --scope: approvals:create, approvals:review, approvals:read, admin, audit")}
			}
			if expires != "" {
				t, err := parseDeadline(expires)
				if err != nil {
					return err
				}
				in.ExpiresAt = &t
			}
			return show(a, func(cl *client.Client) (*client.APIKey, error) {
				return cl.CreateAPIKey(a.ctx, in)
			}, a.emitKey)
		},
	}
	create.Flags().StringSliceVar(&scopes, "scope", nil, "scopes (repeat or comma-separate)")
	create.Flags().StringSliceVar(&groups, "group", nil, "groups, for policies (repeat or comma-separate)")
	create.Flags().StringVar(&expires, "expires", "", "when the key stops working: an RFC 3339 time or a duration from now")
	create.Flags().StringVar(&contact, "contact", "", "an email address for notifications to the key's principal")
	_ = create.RegisterFlagCompletionFunc("scope", cobra.FixedCompletions([]string{"approvals:create", "approvals:review", "approvals:read", "admin", "audit"}, cobra.ShellCompDirectiveNoFileComp))
	revoke := &cobra.Command{
		Use:               "revoke ID",
		Short:             "Revoke an API key",
		Args:              argsExactly("ID"),
		ValidArgsFunction: a.completeKeys,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			if err := cl.RevokeAPIKey(a.ctx, args[0]); err != nil {
				return err
			}
			return a.emitDone("key", args[0], "revoked")
		},
	}
	rotate := &cobra.Command{
		Use:               "rotate ID",
		Short:             "Give an API key a new secret (shown once); the old one stops working",
		Args:              argsExactly("ID"),
		ValidArgsFunction: a.completeKeys,
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(a, func(cl *client.Client) (*client.APIKey, error) {
				return cl.RotateAPIKey(a.ctx, args[0])
			}, a.emitKey)
		},
	}
	cmd.AddCommand(list, create, revoke, rotate)
	return cmd
}
