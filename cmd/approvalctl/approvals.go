package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"approvald/client"
)

func (a *app) approvalCmds() []*cobra.Command {
	return append([]*cobra.Command{
		a.createCmd(), a.getCmd(), a.listCmd(),
		a.reviewCmd(client.Approve), a.reviewCmd(client.Reject),
		a.cancelCmd(), a.editCmd(), a.commentCmd(), a.historyCmd(),
		a.waitCmd(), a.redeliverCmd(), a.eventsCmd(),
		a.receiptCmd(), a.releaseRecordCmd(),
	}, a.lifecycleCmds()...)
}

// approvalRow is a request as one table row.
func approvalRow(r *client.ApprovalRequest) []string {
	return []string{r.ID, string(r.Status), r.Requester, truncate(r.Title, 50), age(r.CreatedAt)}
}

var approvalColumns = columns[*client.ApprovalRequest]{
	header: []string{"ID", "STATUS", "REQUESTER", "TITLE", "AGE"},
	row:    approvalRow,
	name:   func(r *client.ApprovalRequest) string { return r.ID },
}

// emitApproval prints one request: a table row, its JSON, YAML or id.
func (a *app) emitApproval(r *client.ApprovalRequest) error {
	return emitItem(a, approvalColumns, r)
}

// ifMatchOpts turns an --if-match flag into a call option.
func ifMatchOpts(version int64) []client.CallOption {
	if version > 0 {
		return []client.CallOption{client.IfMatch(version)}
	}
	return nil
}

// parseDeadline reads an RFC 3339 time, or a duration from now ("2h").
func parseDeadline(s string) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(d).UTC().Truncate(time.Second), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, usageError{fmt.Errorf("deadline %q is neither an RFC 3339 time (2030-01-02T15:04:05Z) nor a duration from now (90m, 48h)", s)}
	}
	return t, nil
}

// payloadFlags are --payload and --payload-file.
type payloadFlags struct {
	inline, file string
}

func (p *payloadFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&p.inline, "payload", "", `the payload, a JSON object such as '{"invoice":42}'`)
	cmd.Flags().StringVar(&p.file, "payload-file", "", `read the payload from a JSON or YAML file ("-": standard input)`)
	cmd.MarkFlagsMutuallyExclusive("payload", "payload-file")
}

// read returns the payload as JSON, or nil when neither flag was given.
func (p *payloadFlags) read(a *app) (json.RawMessage, error) {
	var b []byte
	switch {
	case p.inline != "":
		b = []byte(p.inline)
	case p.file != "":
		var err error
		if b, err = a.readInput(p.file); err != nil {
			return nil, err
		}
	default:
		return nil, nil
	}
	j, err := yamlOrJSON(b)
	if err != nil {
		return nil, usageError{fmt.Errorf("payload: %w", err)}
	}
	if !bytes.HasPrefix(bytes.TrimSpace(j), []byte("{")) {
		return nil, usageError{errors.New("payload: must be a JSON object, such as {\"invoice\":42}")}
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, j); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (a *app) createCmd() *cobra.Command {
	var (
		in                       client.CreateRequest
		file, deadline, idemKey  string
		payload                  payloadFlags
		wait                     bool
		timeout                  time.Duration
		description, remindAfter string
		justification, itemsFile string
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create an approval request",
		Long: `Create an approval request from flags, or from a JSON or YAML file with the
fields of the API's create body (-f; "-" reads standard input); flags override
the file. The payload, the thing being approved, is a JSON object from
--payload or --payload-file (a JSON or YAML file, "-" for standard input).

With --wait, create then wait for the decision like "approvalctl wait", with
its exit codes.`,
		Example: `  approvalctl create --title "Deploy api 1.4.2 to production" --payload '{"service":"api","version":"1.4.2"}'
  approvalctl create -f request.yaml --deadline 2h
  approvalctl create --title "Release outputs" --justification "paper due" --items-file items.yaml
  git log -1 --format='{"commit":"%H","author":"%an"}' | approvalctl create --title "Release" --payload-file - -o name
  approvalctl create --title "Deploy" --wait --timeout 30m`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if file != "" {
				b, err := a.readInput(file)
				if err != nil {
					return err
				}
				var fromFile client.CreateRequest
				if err := decodeDocument(b, &fromFile); err != nil {
					return usageError{fmt.Errorf("%s: %w", file, err)}
				}
				if in.Title != "" {
					fromFile.Title = in.Title
				}
				fromFile.ServiceRule = firstNonEmpty(in.ServiceRule, fromFile.ServiceRule)
				fromFile.PolicyName = firstNonEmpty(in.PolicyName, fromFile.PolicyName)
				fromFile.Subject = firstNonEmpty(in.Subject, fromFile.Subject)
				if len(in.DependsOn) > 0 {
					fromFile.DependsOn = in.DependsOn
				}
				in = fromFile
			}
			if cmd.Flags().Changed("description") {
				in.Description = description
			}
			if cmd.Flags().Changed("remind-after") {
				in.RemindAfter = remindAfter
			}
			if cmd.Flags().Changed("justification") {
				in.Justification = justification
			}
			if itemsFile != "" {
				items, err := a.readItems(itemsFile)
				if err != nil {
					return err
				}
				in.Items = items
			}
			p, err := payload.read(a)
			if err != nil {
				return err
			}
			if p != nil {
				in.Payload = p
			}
			if deadline != "" {
				d, err := parseDeadline(deadline)
				if err != nil {
					return err
				}
				in.Deadline = &d
			}
			if strings.TrimSpace(in.Title) == "" {
				return usageError{errors.New("a request needs a title: --title, or title in the -f file")}
			}
			cl, err := a.client()
			if err != nil {
				return err
			}
			var opts []client.CallOption
			if idemKey != "" {
				opts = append(opts, client.IdempotencyKey(idemKey))
			}
			r, err := cl.Create(a.ctx, in, opts...)
			if err != nil {
				return err
			}
			if !wait {
				return a.emitApproval(r)
			}
			if a.output == "table" {
				fmt.Fprintf(a.stderr, "created %s\n", r.ID)
			}
			return a.waitFor(r.ID, timeout)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&file, "filename", "f", "", `a JSON or YAML file with the request's fields ("-": standard input)`)
	f.StringVar(&in.Title, "title", "", "the title (required, at most 200 characters)")
	f.StringVar(&description, "description", "", "a longer description")
	payload.register(cmd)
	f.StringVar(&in.ServiceRule, "service-rule", "", "the service rule the decision is delivered to")
	f.StringVar(&deadline, "deadline", "", "when a pending request expires: an RFC 3339 time, or a duration from now such as 48h")
	f.StringVar(&in.PolicyName, "policy-name", "", "a stored policy saying who must approve")
	f.StringSliceVar(&in.DependsOn, "depends-on", nil, "ids of requests that must be approved first (repeat or comma-separate)")
	f.StringVar(&remindAfter, "remind-after", "", "remind the reviewers at this interval, such as 4h")
	f.StringVar(&in.Subject, "subject", "", "what the request is about, to find it by (list --subject)")
	f.StringVar(&justification, "justification", "", "why the request is made (a policy may require it)")
	f.StringVar(&itemsFile, "items-file", "", `the items reviewers may decide one by one: a JSON or YAML list of {id, name, media_type, size, digest, metadata} ("-": standard input)`)
	f.StringVar(&idemKey, "idempotency-key", "", "create at most one request for this key (default: a random key, so retries are safe)")
	f.BoolVar(&wait, "wait", false, "wait for the decision, with the exit codes of approvalctl wait")
	f.DurationVar(&timeout, "timeout", 0, "with --wait: give up after this long (exit 3); 0 waits for ever")
	_ = cmd.RegisterFlagCompletionFunc("service-rule", a.completeRules)
	_ = cmd.RegisterFlagCompletionFunc("policy-name", a.completePolicies)
	cmd.Annotations = map[string]string{waitExitAnnotation: waitExitWithFlag}
	return cmd
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func (a *app) getCmd() *cobra.Command {
	return &cobra.Command{
		Use:               "get ID",
		Short:             "Show an approval request: its status, progress, reviews and payload",
		Args:              argsExactly("ID"),
		ValidArgsFunction: a.completeApprovals,
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(a, func(cl *client.Client) (*client.ApprovalRequest, error) {
				return cl.Get(a.ctx, args[0])
			}, func(r *client.ApprovalRequest) error {
				if a.output == "table" {
					return describeApproval(a, r)
				}
				return a.emitApproval(r)
			})
		},
	}
}

// describeApproval prints a request for a person, field by field.
func describeApproval(a *app, r *client.ApprovalRequest) error {
	t := newTable(a.stdout)
	kv := func(k, v string) { t.row(k+":", v) }
	kv("ID", r.ID)
	kv("Title", r.Title)
	if r.Description != "" {
		kv("Description", r.Description)
	}
	status := fmt.Sprintf("%s (%d)", r.Status, r.StatusCode)
	if r.PreviousStatus != nil {
		status += ", was " + string(*r.PreviousStatus)
	}
	kv("Status", status)
	if r.Reason != "" {
		kv("Reason", r.Reason)
	}
	if rv := r.Revocation; rv != nil {
		kv("Revoked", fmt.Sprintf("by %s at %s: %s", rv.By, rv.At.UTC().Format(time.RFC3339), oneLine(rv.Reason, 200)))
	}
	kv("Requester", r.Requester)
	if r.Justification != "" {
		kv("Justification", r.Justification)
	}
	if r.Cycle > 0 {
		kv("Resubmitted", fmt.Sprintf("%d time(s)", r.Cycle))
	}
	kv("Subject", orDash(r.Subject))
	kv("Service rule", orDash(r.ServiceRule))
	kv("Policy", r.PolicySource)
	kv("Deadline", timeOrDash(r.Deadline))
	kv("Version", strconv.FormatInt(r.Version, 10))
	kv("Created", r.CreatedAt.UTC().Format(time.RFC3339)+" ("+age(r.CreatedAt)+" ago)")
	kv("Updated", r.UpdatedAt.UTC().Format(time.RFC3339))
	kv("Decided", timeOrDash(r.DecidedAt))
	if len(r.DependsOn) > 0 {
		kv("Depends on", strings.Join(r.DependsOn, ", "))
	}
	kv("Comment", orDash(r.Comment))
	if r.Progress.PendingReason != "" {
		kv("Waiting for", r.Progress.PendingReason)
	}
	if d := r.Delivery; d != nil {
		s := fmt.Sprintf("%d attempt(s)", d.Attempts)
		if d.DeliveredAt != nil {
			s += ", delivered " + timeOrDash(d.DeliveredAt)
		}
		if d.LastError != "" {
			s += ", last error: " + oneLine(d.LastError, 120)
		}
		if d.NextAttemptAt != nil {
			s += ", next attempt " + timeOrDash(d.NextAttemptAt)
		}
		kv("Delivery", s)
	}
	if err := t.flush(); err != nil {
		return err
	}
	if len(r.Progress.Rules) > 0 {
		fmt.Fprintln(a.stdout, "Rules:")
		t := newTable(newIndent(a.stdout))
		t.header("RULE", "APPROVALS", "REJECTIONS", "SATISFIED", "MAY APPROVE")
		for _, p := range r.Progress.Rules {
			t.row(p.Rule, fmt.Sprintf("%d/%d", p.Approvals, p.Needed), fmt.Sprintf("%d/%d", p.Rejections, p.RejectThreshold),
				strconv.FormatBool(p.Satisfied), eligibility(p.MayApprove))
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if len(r.Reviews) > 0 {
		fmt.Fprintln(a.stdout, "Reviews:")
		t := newTable(newIndent(a.stdout))
		t.header("REVIEWER", "DECISION", "VERSION", "AT", "COMMENT")
		for _, rv := range r.Reviews {
			decision := string(rv.Decision)
			if len(rv.Items) > 0 {
				decision += fmt.Sprintf(" (%d items)", len(rv.Items))
			}
			if rv.Auto != nil {
				decision += " (automatic: " + oneLine(rv.Auto.Expression, 60) + ")"
			}
			if rv.Void {
				decision += " (void)"
			}
			t.row(rv.Reviewer, decision, strconv.FormatInt(rv.Version, 10), rv.At.UTC().Format(time.RFC3339), rv.Comment)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if err := describeItems(a, r); err != nil {
		return err
	}
	if len(r.Payload) > 0 && string(r.Payload) != "null" {
		var buf bytes.Buffer
		if json.Indent(&buf, r.Payload, "  ", "  ") == nil {
			fmt.Fprintf(a.stdout, "Payload:\n  %s\n", buf.String())
		}
	}
	return nil
}

// eligibility says who may still approve under a rule.
func eligibility(e client.Eligibility) string {
	var who []string
	if e.Anyone {
		who = append(who, "anyone with the review scope")
	}
	who = append(who, e.Principals...)
	for _, g := range e.Groups {
		who = append(who, "group "+g)
	}
	if len(who) == 0 {
		return "-"
	}
	return strings.Join(who, ", ")
}

// indent prefixes every line written through it with two spaces.
type indent struct {
	w   io.Writer
	mid *bool // within a line; shared by copies
}

func newIndent(w io.Writer) indent { return indent{w, new(bool)} }

func (i indent) Write(p []byte) (int, error) {
	var b strings.Builder
	for _, c := range string(p) {
		if !*i.mid {
			b.WriteString("  ")
			*i.mid = true
		}
		b.WriteRune(c)
		if c == '\n' {
			*i.mid = false
		}
	}
	if _, err := io.WriteString(i.w, b.String()); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (a *app) listCmd() *cobra.Command {
	var (
		o        client.ListOptions
		statuses []string
		all      bool
	)
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List approval requests, newest first, or the ones awaiting your review",
		Example: `  approvalctl list --status pending,error
  approvalctl list --awaiting-me
  approvalctl list --requester svc:ci --all -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, s := range statuses {
				o.Status = append(o.Status, client.Status(s))
			}
			cl, err := a.client()
			if err != nil {
				return err
			}
			var items []*client.ApprovalRequest
			next := ""
			if all {
				for r, err := range cl.ListAll(a.ctx, o) {
					if err != nil {
						return err
					}
					items = append(items, r)
				}
			} else {
				page, err := cl.List(a.ctx, o)
				if err != nil {
					return err
				}
				items, next = page.Items, page.NextCursor
			}
			l := listOf(items)
			if next != "" {
				l.NextCursor = &next
			}
			err = emitRows(a, l, approvalColumns, items)
			if err == nil && next != "" && a.output == "table" {
				fmt.Fprintf(a.stderr, "more: add --cursor %s (or --all)\n", next)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&statuses, "status", nil, "only these statuses, such as pending,error (repeat or comma-separate)")
	f.StringVar(&o.Requester, "requester", "", "only requests of this principal, such as svc:billing")
	f.StringVar(&o.Subject, "subject", "", "only requests with this subject")
	f.StringVar(&o.ServiceRule, "service-rule", "", "only requests with this service rule")
	f.BoolVar(&o.AwaitingMe, "awaiting-me", false, "your inbox: pending requests you may review, oldest first")
	f.IntVar(&o.Limit, "limit", 0, "requests per page, 1 to 200 (default 50)")
	f.StringVar(&o.Cursor, "cursor", "", "start at this page (printed after a full page)")
	f.BoolVar(&all, "all", false, "fetch every page")
	for _, other := range []string{"status", "requester", "subject", "service-rule"} {
		cmd.MarkFlagsMutuallyExclusive("awaiting-me", other)
	}
	var names []string
	for _, s := range client.Statuses[1:] {
		names = append(names, string(s))
	}
	_ = cmd.RegisterFlagCompletionFunc("status", cobra.FixedCompletions(names, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("service-rule", a.completeRules)
	return cmd
}

func (a *app) reviewCmd(d client.Decision) *cobra.Command {
	var (
		comment, onBehalfOf string
		ifMatch             int64
		itemFlags           []string
	)
	verb := map[client.Decision]string{client.Approve: "Approve", client.Reject: "Reject"}[d]
	cmd := &cobra.Command{
		Use:   string(d) + " ID...",
		Short: verb + " approval requests (reviews; each request's policy decides when that settles it)",
		Long: verb + ` one request, or several in one call (a batch review: each request is
reviewed by itself, and a table says what became of each; approvalctl fails
when any was refused). With --item, decide a request's items one by one:
--item ID=approve or ID=reject for every item (one request only).`,
		Example: `  approvalctl ` + string(d) + ` $ID -m "looks right"
  approvalctl ` + string(d) + ` $ID1 $ID2 $ID3
  approvalctl approve $ID --item a=approve --item b=reject`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{errors.New("missing ID")}
			}
			for _, id := range args {
				if strings.TrimSpace(id) == "" {
					return usageError{errors.New("ID must not be empty")}
				}
			}
			return nil
		},
		ValidArgsFunction: a.completeInbox,
		RunE: func(cmd *cobra.Command, args []string) error {
			items, err := parseItemDecisions(itemFlags)
			if err != nil {
				return err
			}
			if len(args) > 1 {
				for flag, set := range map[string]bool{"--item": len(items) > 0, "--if-match": ifMatch > 0, "--on-behalf-of": onBehalfOf != ""} {
					if set {
						return usageError{fmt.Errorf("%s applies to one request, not %d", flag, len(args))}
					}
				}
				return a.batchReview(args, d, comment)
			}
			in := client.ReviewRequest{Decision: d, Comment: comment, OnBehalfOf: onBehalfOf, Items: items}
			if len(items) > 0 {
				in.Decision = "" // the items decide
			}
			return show(a, func(cl *client.Client) (*client.ApprovalRequest, error) {
				return cl.Review(a.ctx, args[0], in, ifMatchOpts(ifMatch)...)
			}, a.emitApproval)
		},
	}
	cmd.Flags().StringVarP(&comment, "comment", "m", "", "a comment with the review")
	cmd.Flags().StringVar(&onBehalfOf, "on-behalf-of", "", "review for this delegator (such as user:alice) under a delegation to you in force now")
	cmd.Flags().Int64Var(&ifMatch, "if-match", 0, "review only if the request is still at this version")
	cmd.Flags().StringArrayVar(&itemFlags, "item", nil, "decide an item: ID=approve or ID=reject (repeat for every item)")
	return cmd
}

func (a *app) cancelCmd() *cobra.Command {
	var (
		comment string
		ifMatch int64
	)
	cmd := &cobra.Command{
		Use:               "cancel ID",
		Short:             "Cancel an approval request (its requester or an admin)",
		Args:              argsExactly("ID"),
		ValidArgsFunction: a.completeApprovals,
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(a, func(cl *client.Client) (*client.ApprovalRequest, error) {
				return cl.Cancel(a.ctx, args[0], comment, ifMatchOpts(ifMatch)...)
			}, a.emitApproval)
		},
	}
	cmd.Flags().StringVarP(&comment, "comment", "m", "", "why")
	cmd.Flags().Int64Var(&ifMatch, "if-match", 0, "cancel only if the request is still at this version")
	return cmd
}

func (a *app) editCmd() *cobra.Command {
	var (
		title, description, serviceRule, remindAfter, comment, deadline, policyFile string
		justification, itemsFile                                                    string
		clear                                                                       []string
		payload                                                                     payloadFlags
		ifMatch                                                                     int64
	)
	cmd := &cobra.Command{
		Use:   "edit ID",
		Short: "Change an approval request's fields (what its status allows)",
		Long: `Change what the request's status allows: in pending, error and
changes_requested the title, description, payload, deadline, service rule,
reminders, justification, items and comment (and, for admins, the policy); in a
final status only the comment. Changing the content (anything but the comment
and reminders) voids the reviews so far. After changes were requested, edit and
then "approvalctl resubmit".`,
		Example: `  approvalctl edit $ID --title "Pay invoice 42 (revised)" --payload '{"amount":"1100.00"}'
  approvalctl edit $ID --clear deadline --if-match 3`,
		Args:              argsExactly("ID"),
		ValidArgsFunction: a.completeApprovals,
		RunE: func(cmd *cobra.Command, args []string) error {
			var p client.ApprovalPatch
			changed := cmd.Flags().Changed
			if changed("title") {
				p.Title = &title
			}
			if changed("description") {
				p.Description = &description
			}
			if changed("service-rule") {
				p.ServiceRule = &serviceRule
			}
			if changed("remind-after") {
				p.RemindAfter = &remindAfter
			}
			if changed("comment") {
				p.Comment = &comment
			}
			if changed("justification") {
				p.Justification = &justification
			}
			if itemsFile != "" {
				items, err := a.readItems(itemsFile)
				if err != nil {
					return err
				}
				p.Items = items
			}
			if deadline != "" {
				d, err := parseDeadline(deadline)
				if err != nil {
					return err
				}
				p.Deadline = &d
			}
			var err error
			if p.Payload, err = payload.read(a); err != nil {
				return err
			}
			if policyFile != "" {
				b, err := a.readInput(policyFile)
				if err != nil {
					return err
				}
				var pol client.Policy
				if err := decodeDocument(b, &pol); err != nil {
					return usageError{fmt.Errorf("%s: %w", policyFile, err)}
				}
				p.Policy = &pol
			}
			for _, c := range clear {
				switch c {
				case "deadline", "remind_after", "remind-after", "description", "service_rule", "service-rule", "comment", "justification", "items":
					p.Clear = append(p.Clear, strings.ReplaceAll(c, "-", "_"))
				default:
					return usageError{fmt.Errorf("--clear %q: only deadline, remind-after, description, service-rule, comment, justification and items can be cleared", c)}
				}
			}
			b, _ := json.Marshal(p)
			if string(b) == "{}" {
				return usageError{errors.New("nothing to change: give at least one of --title, --description, --payload, --payload-file, --deadline, --service-rule, --remind-after, --comment, --justification, --items-file, --policy-file, --clear")}
			}
			return show(a, func(cl *client.Client) (*client.ApprovalRequest, error) {
				return cl.Edit(a.ctx, args[0], p, ifMatchOpts(ifMatch)...)
			}, a.emitApproval)
		},
	}
	f := cmd.Flags()
	f.StringVar(&title, "title", "", "the new title")
	f.StringVar(&description, "description", "", "the new description")
	payload.register(cmd)
	f.StringVar(&deadline, "deadline", "", "the new deadline: an RFC 3339 time, or a duration from now")
	f.StringVar(&serviceRule, "service-rule", "", "the new service rule")
	f.StringVar(&remindAfter, "remind-after", "", "the new reminder interval")
	f.StringVarP(&comment, "comment", "m", "", "the new comment")
	f.StringVar(&policyFile, "policy-file", "", "a new policy from a JSON or YAML file (admins only)")
	f.StringVar(&justification, "justification", "", "the new justification")
	f.StringVar(&itemsFile, "items-file", "", `new items from a JSON or YAML list ("-": standard input); voids the reviews so far`)
	f.StringSliceVar(&clear, "clear", nil, "fields to remove: deadline, remind-after, description, service-rule, comment, justification, items")
	f.Int64Var(&ifMatch, "if-match", 0, "change only if the request is still at this version")
	_ = cmd.RegisterFlagCompletionFunc("service-rule", a.completeRules)
	return cmd
}

func (a *app) commentCmd() *cobra.Command {
	var ifMatch int64
	cmd := &cobra.Command{
		Use:   "comment ID TEXT",
		Short: "Set an approval request's comment (any status but while a decision is delivered)",
		Example: `  approvalctl comment $ID "paid on 2026-11-24"
  approvalctl comment $ID ""`,
		Args:              argsExactly("ID", "TEXT"),
		ValidArgsFunction: a.completeApprovals,
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(a, func(cl *client.Client) (*client.ApprovalRequest, error) {
				return cl.SetComment(a.ctx, args[0], args[1], ifMatchOpts(ifMatch)...)
			}, a.emitApproval)
		},
	}
	cmd.Flags().Int64Var(&ifMatch, "if-match", 0, "change only if the request is still at this version")
	return cmd
}

func (a *app) redeliverCmd() *cobra.Command {
	var ifMatch int64
	cmd := &cobra.Command{
		Use:               "redeliver ID",
		Short:             "Deliver the decision on a request in error to its service rule again (admin)",
		Args:              argsExactly("ID"),
		ValidArgsFunction: a.completeApprovals,
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(a, func(cl *client.Client) (*client.ApprovalRequest, error) {
				return cl.Redeliver(a.ctx, args[0], ifMatchOpts(ifMatch)...)
			}, a.emitApproval)
		},
	}
	cmd.Flags().Int64Var(&ifMatch, "if-match", 0, "redeliver only if the request is still at this version")
	return cmd
}

// describeItems prints a request's items and, once decided, what became of
// each.
func describeItems(a *app, r *client.ApprovalRequest) error {
	if len(r.Items) == 0 {
		return nil
	}
	outcome := map[string]string{}
	if o := r.ItemOutcome; o != nil {
		for _, ref := range o.Approved {
			outcome[ref.ID] = "approved"
		}
		for _, ref := range o.Rejected {
			outcome[ref.ID] = "rejected"
		}
	}
	fmt.Fprintln(a.stdout, "Items:")
	t := newTable(newIndent(a.stdout))
	t.header("ID", "NAME", "SIZE", "DIGEST", "OUTCOME")
	for _, it := range r.Items {
		t.row(it.ID, truncate(it.Name, 50), strconv.FormatInt(it.Size, 10), truncate(it.Digest, 24), orDash(outcome[it.ID]))
	}
	return t.flush()
}

// readItems reads a list of items from a JSON or YAML file ("-": standard
// input).
func (a *app) readItems(path string) ([]client.Item, error) {
	b, err := a.readInput(path)
	if err != nil {
		return nil, err
	}
	var items []client.Item
	if err := decodeDocument(b, &items); err != nil {
		return nil, usageError{fmt.Errorf("%s: %w", path, err)}
	}
	if items == nil {
		items = []client.Item{}
	}
	return items, nil
}
