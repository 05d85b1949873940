package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"approvald/client"
)

// emitList prints items the client decoded into the domain's own types
// (which encode as the server sent them): JSON or YAML of {"items": …},
// the names, or the table.
func emitList[T any](a *app, cols columns[T], items []T, next *string) error {
	if items == nil {
		items = []T{}
	}
	return emitRows(a, struct {
		Items      []T     `json:"items"`
		NextCursor *string `json:"next_cursor"`
	}{items, next}, cols, items)
}

// emitOne prints one item as emitList prints a list.
func emitOne[T any](a *app, cols columns[T], it T) error {
	return a.emitValue(it, func(t *table) {
		t.header(cols.header...)
		t.row(cols.row(it)...)
	}, func() []string { return []string{cols.name(it)} })
}

// ---- notification channels

func channelRow(c *client.NotificationChannel) []string {
	target := c.URL
	if c.Email != nil {
		target = fmt.Sprintf("%s:%d (%s) from %s", c.Email.Host, c.Email.Port, c.Email.TLS, c.Email.From)
	}
	return []string{c.Name, c.Type, orDash(target), strconv.FormatInt(c.Version, 10)}
}

var channelColumns = columns[*client.NotificationChannel]{
	header: []string{"NAME", "TYPE", "TARGET", "VERSION"},
	row:    channelRow,
	name:   func(c *client.NotificationChannel) string { return c.Name },
}

func (a *app) channelsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "channels",
		Aliases: []string{"channel", "notification-channels"},
		Short:   "Manage notification channels: email, Slack, Teams (admin; audit may list)",
	}
	list := &cobra.Command{
		Use: "list", Aliases: []string{"ls"}, Short: "List the notification channels (webhook URLs redacted)", Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(a, func(cl *client.Client) ([]*client.NotificationChannel, error) { return cl.Channels(a.ctx) },
				func(items []*client.NotificationChannel) error { return emitList(a, channelColumns, items, nil) })
		},
	}
	var (
		in                     client.ChannelRequest
		email                  client.EmailSettings
		urlFile                string
		port                   int
		host, tls, from, user  string
		passFile, passEnv, typ string
	)
	create := &cobra.Command{
		Use:   "create NAME --type email|slack|teams",
		Short: "Create a notification channel",
		Long: `Create a notification channel. An email channel needs --smtp-host and --from;
its password is never given to approvald: --password-file names a file on the
server (a mounted secret) and --password-env an environment variable of the
server that holds it. A slack or teams channel needs its webhook URL, from
--url or, to keep it out of the shell's history, --url-file ("-": standard input).`,
		Example: `  approvalctl channels create mail --type email --smtp-host smtp.example.com --from approvald@example.com \
      --username approvald --password-file /run/secrets/smtp
  approvalctl channels create team-chat --type slack --url-file - < slack-webhook.txt`,
		Args: argsExactly("NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			in.Name, in.Type = args[0], typ
			if urlFile != "" {
				b, err := a.readInput(urlFile)
				if err != nil {
					return err
				}
				in.URL = strings.TrimSpace(string(b))
			}
			if typ == "email" {
				email = client.EmailSettings{Host: host, Port: port, TLS: tls, From: from, Username: user, PasswordFile: passFile, PasswordEnv: passEnv}
				in.Email = &email
			} else if host != "" || from != "" {
				return usageError{fmt.Errorf("--smtp-host and --from are for --type email")}
			}
			return show(a, func(cl *client.Client) (*client.NotificationChannel, error) { return cl.CreateChannel(a.ctx, in) },
				func(c *client.NotificationChannel) error { return emitOne(a, channelColumns, c) })
		},
	}
	f := create.Flags()
	f.StringVar(&typ, "type", "", "email, slack or teams")
	f.StringVar(&in.URL, "url", "", "slack, teams: the webhook URL (a secret: never shown back)")
	f.StringVar(&urlFile, "url-file", "", `slack, teams: read the webhook URL from this file ("-": standard input)`)
	f.StringVar(&host, "smtp-host", "", "email: the SMTP submission server")
	f.IntVar(&port, "smtp-port", 0, "email: its port (default 587, 465 with --tls tls, 25 with --tls none)")
	f.StringVar(&tls, "tls", "", "email: starttls (the default), tls (implicit) or none")
	f.StringVar(&from, "from", "", "email: the From address")
	f.StringVar(&user, "username", "", "email: the SMTP user name")
	f.StringVar(&passFile, "password-file", "", "email: a file on the server holding the SMTP password")
	f.StringVar(&passEnv, "password-env", "", "email: an environment variable of the server holding the SMTP password")
	create.MarkFlagsMutuallyExclusive("url", "url-file")
	create.MarkFlagsMutuallyExclusive("password-file", "password-env")
	_ = create.MarkFlagRequired("type")
	_ = create.RegisterFlagCompletionFunc("type", cobra.FixedCompletions([]string{"email", "slack", "teams"}, cobra.ShellCompDirectiveNoFileComp))
	_ = create.RegisterFlagCompletionFunc("tls", cobra.FixedCompletions([]string{"starttls", "tls", "none"}, cobra.ShellCompDirectiveNoFileComp))
	del := deleteSubcmd(a, "channel", "Delete a notification channel (refused while a route or a group's contact names it)", nil,
		func(cl *client.Client, name string) error { return cl.DeleteChannel(a.ctx, name) })
	cmd.AddCommand(list, create, del)
	return cmd
}

// ---- notification routes

func routeRow(r *client.NotificationRoute) []string {
	events := "all"
	if len(r.Events) > 0 {
		s := make([]string, len(r.Events))
		for i, k := range r.Events {
			s[i] = string(k)
		}
		events = strings.Join(s, ",")
	}
	return []string{strconv.FormatInt(r.ID, 10), r.Channel, events, r.Scope}
}

var routeColumns = columns[*client.NotificationRoute]{
	header: []string{"ID", "CHANNEL", "EVENTS", "SCOPE"},
	row:    routeRow,
	name:   func(r *client.NotificationRoute) string { return strconv.FormatInt(r.ID, 10) },
}

var notifyKindNames = []string{"review_requested", "reminder", "escalation", "decision", "delivery_failed", "expired"}

func (a *app) routesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "routes",
		Aliases: []string{"route", "notification-routes"},
		Short:   "Manage notification routes: which events go to which channel (admin; audit may list)",
	}
	list := &cobra.Command{
		Use: "list", Aliases: []string{"ls"}, Short: "List the notification routes", Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(a, func(cl *client.Client) ([]*client.NotificationRoute, error) { return cl.Routes(a.ctx) },
				func(items []*client.NotificationRoute) error { return emitList(a, routeColumns, items, nil) })
		},
	}
	var (
		in     client.RouteRequest
		events []string
	)
	create := &cobra.Command{
		Use:   "create --channel NAME [--event KIND]... [--scope SCOPE]",
		Short: "Send some events about some requests to a channel",
		Example: `  approvalctl routes create --channel team-chat --event review_requested,escalation --scope group:finance
  approvalctl routes create --channel ops-mail --event delivery_failed`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, e := range events {
				in.Events = append(in.Events, client.NotifyKind(e))
			}
			return show(a, func(cl *client.Client) (*client.NotificationRoute, error) { return cl.CreateRoute(a.ctx, in) },
				func(r *client.NotificationRoute) error { return emitOne(a, routeColumns, r) })
		},
	}
	create.Flags().StringVar(&in.Channel, "channel", "", "the channel to send to")
	create.Flags().StringSliceVar(&events, "event", nil, "kinds to send (repeat or comma-separate; default every kind): "+strings.Join(notifyKindNames, ", "))
	create.Flags().StringVar(&in.Scope, "scope", "", "which requests: all (the default), service_rule:NAME, policy:NAME or group:NAME")
	_ = create.MarkFlagRequired("channel")
	_ = create.RegisterFlagCompletionFunc("event", cobra.FixedCompletions(notifyKindNames, cobra.ShellCompDirectiveNoFileComp))
	del := &cobra.Command{
		Use: "delete ID", Aliases: []string{"rm"}, Short: "Delete a notification route", Args: argsExactly("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id < 1 {
				return usageError{fmt.Errorf("route id %q is not a number", args[0])}
			}
			cl, err := a.client()
			if err != nil {
				return err
			}
			if err := cl.DeleteRoute(a.ctx, id); err != nil {
				return err
			}
			return a.emitDeleted("route", args[0])
		},
	}
	cmd.AddCommand(list, create, del)
	return cmd
}

// ---- contacts

func contactRow(c *client.Contact) []string {
	reach := c.Email
	if c.Group != "" {
		reach = strings.Join(c.Emails, ",")
		if c.Channel != "" {
			reach = strings.TrimPrefix(reach+",channel:"+c.Channel, ",")
		}
	}
	return []string{c.Key(), orDash(reach), c.Source, strconv.FormatBool(c.Admin)}
}

var contactColumns = columns[*client.Contact]{
	header: []string{"KEY", "REACHED AT", "SOURCE", "ADMIN"},
	row:    contactRow,
	name:   func(c *client.Contact) string { return c.Key() },
}

func (a *app) contactsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "contacts",
		Aliases: []string{"contact"},
		Short:   "Manage where principals and groups are reached (admin; audit may list)",
	}
	list := &cobra.Command{
		Use: "list", Aliases: []string{"ls"}, Short: "List the contacts, whatever their source", Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(a, func(cl *client.Client) ([]*client.Contact, error) { return cl.Contacts(a.ctx) },
				func(items []*client.Contact) error { return emitList(a, contactColumns, items, nil) })
		},
	}
	var (
		emails  []string
		channel string
		admin   bool
	)
	set := &cobra.Command{
		Use:   "set PRINCIPAL --email ADDRESS | set group:NAME [--email ADDRESS]... [--channel NAME]",
		Short: "Set where a principal or a group is reached (over a sign-in's or an API key's address)",
		Example: `  approvalctl contacts set user:alice --email alice@example.com
  approvalctl contacts set group:finance --channel finance-chat --email finance@example.com
  approvalctl contacts set user:ops-lead --email ops@example.com --admin`,
		Args: argsExactly("KEY"),
		RunE: func(cmd *cobra.Command, args []string) error {
			in := client.ContactRequest{Channel: channel, Admin: admin}
			if group, ok := strings.CutPrefix(args[0], "group:"); ok {
				in.Group, in.Emails = group, emails
			} else {
				if len(emails) > 1 {
					return usageError{fmt.Errorf("a principal has one --email; a group (group:NAME) may have several")}
				}
				in.Principal = args[0]
				if len(emails) == 1 {
					in.Email = emails[0]
				}
			}
			return show(a, func(cl *client.Client) (*client.Contact, error) { return cl.SetContact(a.ctx, in) },
				func(c *client.Contact) error { return emitOne(a, contactColumns, c) })
		},
	}
	set.Flags().StringSliceVar(&emails, "email", nil, "the address (a group: repeat or comma-separate its members' addresses)")
	set.Flags().StringVar(&channel, "channel", "", "a group's chat channel")
	set.Flags().BoolVar(&admin, "admin", false, "also tell this contact of failed deliveries")
	del := deleteSubcmd(a, "contact", "Delete a contact (KEY: a principal, or group:NAME)", nil,
		func(cl *client.Client, key string) error { return cl.DeleteContact(a.ctx, key) })
	cmd.AddCommand(list, set, del)
	return cmd
}

// ---- delegations

func delegationRow(d *client.Delegation) []string {
	state := "active"
	now := time.Now()
	switch {
	case d.RevokedAt != nil:
		state = "revoked"
	case now.Before(d.Starts):
		state = "scheduled"
	case !now.Before(d.Ends):
		state = "ended"
	}
	return []string{d.ID, d.Delegator, d.Delegate, d.Starts.UTC().Format(time.RFC3339), d.Ends.UTC().Format(time.RFC3339), state, truncate(d.Reason, 40)}
}

var delegationColumns = columns[*client.Delegation]{
	header: []string{"ID", "DELEGATOR", "DELEGATE", "FROM", "UNTIL", "STATE", "REASON"},
	row:    delegationRow,
	name:   func(d *client.Delegation) string { return d.ID },
}

func (a *app) delegationsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "delegations",
		Aliases: []string{"delegation"},
		Short:   "Lend your review eligibility while you are away (admins: anyone's)",
	}
	var o client.DelegationOptions
	list := &cobra.Command{
		Use: "list", Aliases: []string{"ls"}, Short: "List your delegations, given or received (admin, audit: everyone's)", Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(a, func(cl *client.Client) ([]*client.Delegation, error) { return cl.Delegations(a.ctx, o) },
				func(items []*client.Delegation) error { return emitList(a, delegationColumns, items, nil) })
		},
	}
	list.Flags().StringVar(&o.Principal, "principal", "", "only those this principal gave or received")
	list.Flags().BoolVar(&o.Active, "active", false, "only those in force now")
	list.Flags().IntVar(&o.Limit, "limit", 0, "at most this many (1 to 200; default 50)")
	var (
		in          client.DelegationRequest
		from, until string
	)
	create := &cobra.Command{
		Use:   "create DELEGATE --until TIME",
		Short: "Let DELEGATE review for you (or, as an admin, for --delegator) until a time",
		Example: `  approvalctl delegations create user:bob --until 2030-08-15T00:00:00Z --reason "holiday"
  approvalctl delegations create user:bob --from 24h --until 240h
  approvalctl delegations create user:carol --delegator user:alice --delegator-group finance --until 72h`,
		Args: argsExactly("DELEGATE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			in.Delegate = args[0]
			var err error
			if in.EndsAt, err = parseDeadline(until); err != nil {
				return err
			}
			if from != "" {
				if in.StartsAt, err = parseDeadline(from); err != nil {
					return err
				}
			}
			return show(a, func(cl *client.Client) (*client.Delegation, error) { return cl.CreateDelegation(a.ctx, in) },
				func(d *client.Delegation) error { return emitOne(a, delegationColumns, d) })
		},
	}
	create.Flags().StringVar(&until, "until", "", "when it ends: an RFC 3339 time or a duration from now")
	create.Flags().StringVar(&from, "from", "", "when it starts (default now): an RFC 3339 time or a duration from now")
	create.Flags().StringVar(&in.Reason, "reason", "", "why, for the record")
	create.Flags().StringVar(&in.Delegator, "delegator", "", "admin: whose eligibility to lend")
	create.Flags().StringSliceVar(&in.DelegatorGroups, "delegator-group", nil, "admin: the delegator's groups (repeat or comma-separate)")
	_ = create.MarkFlagRequired("until")
	revoke := &cobra.Command{
		Use: "revoke ID", Short: "End a delegation at once (its delegator, its delegate or an admin)", Args: argsExactly("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(a, func(cl *client.Client) (*client.Delegation, error) { return cl.RevokeDelegation(a.ctx, args[0]) },
				func(d *client.Delegation) error { return emitOne(a, delegationColumns, d) })
		},
	}
	cmd.AddCommand(list, create, revoke)
	return cmd
}

// ---- the notification queue

func notificationRow(n *client.Notification) []string {
	state := "pending"
	switch {
	case n.SentAt != nil:
		state = "sent"
	case n.FailedAt != nil:
		state = "failed"
	}
	return []string{strconv.FormatInt(n.ID, 10), n.RequestID, string(n.Kind), n.Recipient, n.Channel, state,
		strconv.Itoa(n.Attempts), orDash(oneLine(n.LastError, 60))}
}

var notificationColumns = columns[*client.Notification]{
	header: []string{"ID", "REQUEST", "KIND", "RECIPIENT", "CHANNEL", "STATE", "ATTEMPTS", "LAST ERROR"},
	row:    notificationRow,
	name:   func(n *client.Notification) string { return strconv.FormatInt(n.ID, 10) },
}

func (a *app) notificationsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "notifications",
		Aliases: []string{"notification"},
		Short:   "Inspect the notification queue: sent, pending, failed (admin or audit)",
	}
	var o client.NotificationOptions
	list := &cobra.Command{
		Use: "list", Aliases: []string{"ls"}, Short: "List notifications, newest first (one page; --cursor for the next)", Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(a, func(cl *client.Client) (*client.NotificationPage, error) { return cl.Notifications(a.ctx, o) },
				func(p *client.NotificationPage) error {
					err := emitList(a, notificationColumns, p.Items, p.NextCursor)
					if err == nil && p.NextCursor != nil && a.output == "table" {
						fmt.Fprintf(a.stdout, "\nMore: --cursor %s\n", *p.NextCursor)
					}
					return err
				})
		},
	}
	list.Flags().StringVar(&o.RequestID, "request", "", "only those about this request (its id)")
	list.Flags().StringVar(&o.State, "state", "", "failed or pending")
	list.Flags().IntVar(&o.Limit, "limit", 0, "at most this many (1 to 200; default 50)")
	list.Flags().StringVar(&o.Cursor, "cursor", "", "the cursor the previous page printed")
	_ = list.RegisterFlagCompletionFunc("state", cobra.FixedCompletions([]string{"failed", "pending"}, cobra.ShellCompDirectiveNoFileComp))
	cmd.AddCommand(list)
	return cmd
}
