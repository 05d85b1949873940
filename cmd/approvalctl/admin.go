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

// rawList is the JSON of a list approvalctl prints: the items as the
// server sent them.
type rawList struct {
	Items      []json.RawMessage `json:"items"`
	NextCursor *string           `json:"next_cursor"`
}

func listOf[T interface{ Raw() json.RawMessage }](items []T) rawList {
	l := rawList{Items: []json.RawMessage{}}
	for _, it := range items {
		l.Items = append(l.Items, it.Raw())
	}
	return l
}

// ---- service rules

func ruleRow(r *client.ServiceRule) []string {
	return []string{r.Name, r.URL, r.Format, r.Timeout, strconv.Itoa(r.MaxAttempts), orDash(r.Policy)}
}

var ruleHeader = []string{"NAME", "URL", "FORMAT", "TIMEOUT", "ATTEMPTS", "POLICY"}

// emitRule prints a rule, and the secret the server generated, if any.
func (a *app) emitRule(r *client.ServiceRule) error {
	err := a.emit(r.Raw(), func(t *table) {
		t.header(ruleHeader...)
		t.row(ruleRow(r)...)
	}, func() []string { return []string{r.Name} })
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
	fl.StringArrayVar(&f.headers, "header", nil, "a header added to every delivery, Name=value (repeat)")
	fl.StringVar(&f.policy, "policy", "", "a stored policy for the rule's requests")
	_ = cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"standard", "legacy"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("policy", a.completePolicies)
}

func (f *ruleFlags) headerMap() (map[string]string, error) {
	if f.headers == nil {
		return nil, nil
	}
	m := map[string]string{}
	for _, h := range f.headers {
		k, v, ok := strings.Cut(h, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, usageError{fmt.Errorf("--header %q is not Name=value", h)}
		}
		m[strings.TrimSpace(k)] = v
	}
	return m, nil
}

func (a *app) rulesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "rules",
		Aliases: []string{"service-rules", "rule"},
		Short:   "Manage service rules: where decisions are delivered (admin)",
	}
	list := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the service rules",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			rules, err := cl.ServiceRules(a.ctx)
			if err != nil {
				return err
			}
			return a.emitValue(listOf(rules), func(t *table) {
				t.header(ruleHeader...)
				for _, r := range rules {
					t.row(ruleRow(r)...)
				}
			}, func() []string {
				var n []string
				for _, r := range rules {
					n = append(n, r.Name)
				}
				return n
			})
		},
	}
	get := &cobra.Command{
		Use:               "get NAME",
		Short:             "Show a service rule",
		Args:              argsExactly("NAME"),
		ValidArgsFunction: a.completeRules,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			r, err := cl.ServiceRule(a.ctx, args[0])
			if err != nil {
				return err
			}
			return a.emitRule(r)
		},
	}
	var cf ruleFlags
	var file string
	create := &cobra.Command{
		Use:   "create NAME --url URL",
		Short: "Create a service rule; its signing secret is shown once",
		Example: `  approvalctl rules create deploys --url https://ci.example.com/hooks/approvald --delivery-timeout 10s
  approvalctl rules create stash --url http://stash.internal/callback --format legacy --api-key "$STASH_KEY"`,
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
			h, err := cf.headerMap()
			if err != nil {
				return err
			}
			if h != nil {
				in.Headers = h
			}
			if in.URL == "" {
				return usageError{fmt.Errorf("a service rule needs --url")}
			}
			cl, err := a.client()
			if err != nil {
				return err
			}
			r, err := cl.CreateServiceRule(a.ctx, in)
			if err != nil {
				return err
			}
			return a.emitRule(r)
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
			if p.Headers, err = ef.headerMap(); err != nil {
				return err
			}
			p.RotateSecret = rotate
			for _, c := range clear {
				p.Clear = append(p.Clear, strings.ReplaceAll(c, "-", "_"))
			}
			if b, _ := json.Marshal(p); string(b) == "{}" {
				return usageError{fmt.Errorf("nothing to change: give a field flag, --rotate-secret or --clear")}
			}
			cl, err := a.client()
			if err != nil {
				return err
			}
			r, err := cl.EditServiceRule(a.ctx, args[0], p)
			if err != nil {
				return err
			}
			return a.emitRule(r)
		},
	}
	ef.register(a, edit)
	edit.Flags().BoolVar(&rotate, "rotate-secret", false, "have the server make a new signing secret (shown once)")
	edit.Flags().StringSliceVar(&clear, "clear", nil, "reset these fields to their defaults: api-key, delivery-timeout, max-attempts, headers, policy")
	del := &cobra.Command{
		Use:               "delete NAME",
		Aliases:           []string{"rm"},
		Short:             "Delete a service rule (refused while a request that is not final names it)",
		Args:              argsExactly("NAME"),
		ValidArgsFunction: a.completeRules,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			if err := cl.DeleteServiceRule(a.ctx, args[0]); err != nil {
				return err
			}
			return a.emitDeleted("service rule", args[0])
		},
	}
	cmd.AddCommand(list, get, create, edit, del)
	return cmd
}

// emitDeleted reports a deletion.
func (a *app) emitDeleted(kind, name string) error {
	if a.output == "table" {
		_, err := fmt.Fprintf(a.stdout, "%s %s deleted\n", kind, name)
		return err
	}
	return a.emitValue(map[string]any{"deleted": name}, nil, func() []string { return []string{name} })
}

// ---- stored policies

func policyRow(p *client.StoredPolicy) []string {
	rules := len(p.Policy.Rules)
	for _, s := range p.Policy.Stages {
		rules += len(s.Rules)
	}
	return []string{p.Name, strconv.FormatInt(p.Version, 10), strconv.Itoa(rules), strconv.Itoa(len(p.Policy.Stages)), truncate(p.Description, 50)}
}

var policyHeader = []string{"NAME", "VERSION", "RULES", "STAGES", "DESCRIPTION"}

func (a *app) emitPolicy(p *client.StoredPolicy) error {
	return a.emit(p.Raw(), func(t *table) {
		t.header(policyHeader...)
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

func (a *app) policiesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "policies",
		Aliases: []string{"policy"},
		Short:   "Manage stored review policies: who must approve (admin; anyone may read)",
	}
	list := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the stored policies",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			ps, err := cl.Policies(a.ctx)
			if err != nil {
				return err
			}
			return a.emitValue(listOf(ps), func(t *table) {
				t.header(policyHeader...)
				for _, p := range ps {
					t.row(policyRow(p)...)
				}
			}, func() []string {
				var n []string
				for _, p := range ps {
					n = append(n, p.Name)
				}
				return n
			})
		},
	}
	get := &cobra.Command{
		Use:               "get NAME",
		Short:             "Show a stored policy and its rules",
		Args:              argsExactly("NAME"),
		ValidArgsFunction: a.completePolicies,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			p, err := cl.Policy(a.ctx, args[0])
			if err != nil {
				return err
			}
			return a.emitPolicy(p)
		},
	}
	var (
		file, description string
		ifMatch           int64
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
			in, err := a.readPolicyFile(file)
			if err != nil {
				return err
			}
			in.Name = args[0]
			if cmd.Flags().Changed("description") {
				in.Description = description
			}
			cl, err := a.client()
			if err != nil {
				return err
			}
			p, err := cl.CreatePolicy(a.ctx, in)
			if err != nil {
				return err
			}
			return a.emitPolicy(p)
		},
	}
	create.Flags().StringVarP(&file, "filename", "f", "", `the policy, a JSON or YAML file ("-": standard input)`)
	create.Flags().StringVar(&description, "description", "", "what the policy is for")
	_ = create.MarkFlagRequired("filename")
	replace := &cobra.Command{
		Use:               "replace NAME -f FILE",
		Short:             "Replace a stored policy (open requests keep their copy)",
		Args:              argsExactly("NAME"),
		ValidArgsFunction: a.completePolicies,
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := a.readPolicyFile(file)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("description") {
				in.Description = description
			}
			cl, err := a.client()
			if err != nil {
				return err
			}
			p, err := cl.ReplacePolicy(a.ctx, args[0], in, ifMatchOpts(ifMatch)...)
			if err != nil {
				return err
			}
			return a.emitPolicy(p)
		},
	}
	replace.Flags().StringVarP(&file, "filename", "f", "", `the policy, a JSON or YAML file ("-": standard input)`)
	replace.Flags().StringVar(&description, "description", "", "what the policy is for")
	replace.Flags().Int64Var(&ifMatch, "if-match", 0, "replace only if the policy is still at this version")
	_ = replace.MarkFlagRequired("filename")
	del := &cobra.Command{
		Use:               "delete NAME",
		Aliases:           []string{"rm"},
		Short:             "Delete a stored policy",
		Args:              argsExactly("NAME"),
		ValidArgsFunction: a.completePolicies,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			if err := cl.DeletePolicy(a.ctx, args[0]); err != nil {
				return err
			}
			return a.emitDeleted("policy", args[0])
		},
	}
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

var keyHeader = []string{"ID", "NAME", "PREFIX", "SCOPES", "GROUPS", "STATE", "EXPIRES", "LAST USED"}

// emitKey prints a key; its secret, when the server sent it, is printed
// after the table (or in the JSON).
func (a *app) emitKey(k *client.APIKey) error {
	err := a.emit(k.Raw(), func(t *table) {
		t.header(keyHeader...)
		t.row(keyRow(k)...)
	}, func() []string { return []string{k.ID} })
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
	list := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the API keys (never their secrets)",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			keys, err := cl.APIKeys(a.ctx)
			if err != nil {
				return err
			}
			sort.SliceStable(keys, func(i, j int) bool { return keys[i].CreatedAt.Before(keys[j].CreatedAt) })
			return a.emitValue(listOf(keys), func(t *table) {
				t.header(keyHeader...)
				for _, k := range keys {
					t.row(keyRow(k)...)
				}
			}, func() []string {
				var n []string
				for _, k := range keys {
					n = append(n, k.ID)
				}
				return n
			})
		},
	}
	var (
		scopes, groups []string
		expires        string
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
			in := client.CreateAPIKeyRequest{Name: args[0], Scopes: scopes, Groups: groups}
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
			cl, err := a.client()
			if err != nil {
				return err
			}
			k, err := cl.CreateAPIKey(a.ctx, in)
			if err != nil {
				return err
			}
			return a.emitKey(k)
		},
	}
	create.Flags().StringSliceVar(&scopes, "scope", nil, "scopes (repeat or comma-separate)")
	create.Flags().StringSliceVar(&groups, "group", nil, "groups, for policies (repeat or comma-separate)")
	create.Flags().StringVar(&expires, "expires", "", "when the key stops working: an RFC 3339 time or a duration from now")
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
			if a.output == "table" {
				_, err := fmt.Fprintf(a.stdout, "key %s revoked\n", args[0])
				return err
			}
			return a.emitValue(map[string]any{"revoked": args[0]}, nil, func() []string { return []string{args[0]} })
		},
	}
	rotate := &cobra.Command{
		Use:               "rotate ID",
		Short:             "Give an API key a new secret (shown once); the old one stops working",
		Args:              argsExactly("ID"),
		ValidArgsFunction: a.completeKeys,
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			k, err := cl.RotateAPIKey(a.ctx, args[0])
			if err != nil {
				return err
			}
			return a.emitKey(k)
		},
	}
	cmd.AddCommand(list, create, revoke, rotate)
	return cmd
}
