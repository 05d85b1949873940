package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"approvald/client"
)

func (a *app) historyCmd() *cobra.Command {
	var (
		all          bool
		f            client.HistoryFilter
		since, until string
	)
	cmd := &cobra.Command{
		Use:   "history ID | history --all",
		Short: "Show every change of an approval request, or of every request: who, what, when, and the hash chain",
		Long: `Show every change of an approval request, oldest first: its sequence number,
the action, the actor, the time, the fields it changed and its hash.

With --all, show the history of every request instead, oldest first, page by
page as it arrives, so that it can export millions of entries (the audit or
admin scope): --actor, --action, --since and --until filter it.

"approvalctl history verify" asks the server to check every request's hash
chain; "approvalctl history verify --local ID" checks one request's here.`,
		Example: `  approvalctl history $ID
  approvalctl history --all --since 24h
  approvalctl history --all --actor svc:billing --action approve -o json > approvals.json`,
		ValidArgsFunction: a.completeApprovals,
		Args: func(cmd *cobra.Command, args []string) error {
			if all {
				return noArgs(cmd, args)
			}
			for _, name := range []string{"actor", "action", "since", "until", "limit"} {
				if cmd.Flags().Changed(name) {
					return usageError{fmt.Errorf("--%s filters the history of every request: add --all", name)}
				}
			}
			return argsExactly("ID")(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			if all {
				if f.Since, err = parseSince("since", since); err != nil {
					return err
				}
				if f.Until, err = parseSince("until", until); err != nil {
					return err
				}
				return a.exportHistory(cl, f)
			}
			h, err := cl.History(a.ctx, args[0])
			if err != nil {
				return err
			}
			return a.emit(h.Raw(), func(t *table) {
				t.header(entryHeader...)
				for _, e := range h.Items {
					t.row(entryRow(e)...)
				}
			}, func() []string { return entryHashes(h.Items) })
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&all, "all", false, "the history of every request (audit or admin scope)")
	fl.StringVar(&f.Actor, "actor", "", "with --all: only changes made by this principal, such as svc:billing")
	fl.StringVar(&f.Action, "action", "", "with --all: only changes of this action, such as approve")
	fl.StringVar(&since, "since", "", "with --all: only changes at or after this RFC 3339 time, or this long ago (24h)")
	fl.StringVar(&until, "until", "", "with --all: only changes before this RFC 3339 time, or this long ago")
	fl.IntVar(&f.Limit, "limit", 0, "with --all: entries per call to the server, 1 to 200 (default 50)")
	_ = cmd.RegisterFlagCompletionFunc("action", cobra.FixedCompletions(historyActions, cobra.ShellCompDirectiveNoFileComp))
	cmd.AddCommand(a.historyVerifyCmd())
	return cmd
}

// historyActions are the actions a history entry may name.
var historyActions = []string{"create", "edit", "comment", "review", "approve", "reject", "cancel",
	"expire", "delivered", "delivery_failed", "redeliver", "remind", "outcome"}

var entryHeader = []string{"SEQ", "ACTION", "ACTOR", "AT", "CHANGED", "HASH"}

// entryRow is a history entry as one table row.
func entryRow(e client.HistoryEntry) []string {
	return []string{strconv.FormatInt(e.Seq, 10), e.Action, e.Actor, e.At.UTC().Format(time.RFC3339), changedFields(e.Changes), truncate(e.Hash, 13)}
}

func entryHashes(entries []client.HistoryEntry) []string {
	var hashes []string
	for _, e := range entries {
		hashes = append(hashes, e.Hash)
	}
	return hashes
}

// parseSince reads the --since or --until flag named flag: an RFC 3339 time,
// or a duration back from now ("24h"); "" is the zero time.
func parseSince(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return time.Now().Add(-d).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, usageError{fmt.Errorf("--%s %q is neither an RFC 3339 time (2030-01-02T15:04:05Z) nor a duration back from now (90m, 24h)", flag, s)}
	}
	return t, nil
}

// exportHistory prints the history of every request matching f, page by
// page as the pages arrive: the table, one JSON document or one YAML
// document (the shape of the API's page, with next_cursor null), or the
// entries' hashes. When a page fails, what was printed stays and the error
// says why it ends there; a JSON document is left unclosed, so that no
// parser takes it for the whole history.
func (a *app) exportHistory(cl *client.Client, f client.HistoryFilter) error {
	out := &entryStream{a: a}
	for {
		page, err := cl.ListHistory(a.ctx, f)
		if err != nil {
			return err
		}
		if err := out.page(page.Items); err != nil {
			return err
		}
		if page.NextCursor == "" {
			return out.end()
		}
		f.Cursor = page.NextCursor
	}
}

// entryStream prints history entries a page at a time in the chosen output
// format, without holding them all: page prints each page, end closes the
// document.
type entryStream struct {
	a       *app
	entries int
	t       *table
}

func (s *entryStream) page(entries []client.HistoryEntry) error {
	w := s.a.stdout
	switch s.a.output {
	case "json":
		for _, e := range entries {
			var buf bytes.Buffer
			if err := json.Indent(&buf, bytes.TrimSpace(e.Raw()), "    ", "  "); err != nil {
				return fmt.Errorf("the server's answer is not JSON: %w", err)
			}
			sep := ",\n    "
			if s.entries == 0 {
				sep = "{\n  \"items\": [\n    "
			}
			if _, err := io.WriteString(w, sep+buf.String()); err != nil {
				return err
			}
			s.entries++
		}
	case "yaml":
		for _, e := range entries {
			b, err := jsonToYAML(e.Raw())
			if err != nil {
				return err
			}
			var item strings.Builder
			if s.entries == 0 {
				item.WriteString("items:\n")
			}
			for i, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
				if i == 0 {
					item.WriteString("  - " + line + "\n")
				} else {
					item.WriteString("    " + line + "\n")
				}
			}
			if _, err := io.WriteString(w, item.String()); err != nil {
				return err
			}
			s.entries++
		}
	case "name":
		for _, h := range entryHashes(entries) {
			if _, err := fmt.Fprintln(w, h); err != nil {
				return err
			}
		}
	default:
		if s.t == nil {
			s.t = newTable(w)
			s.t.header(append([]string{"REQUEST"}, entryHeader...)...)
		}
		for _, e := range entries {
			s.t.row(append([]string{e.RequestID}, entryRow(e)...)...)
		}
		return s.t.flush() // the columns line up within a page
	}
	return nil
}

// end closes the document.
func (s *entryStream) end() error {
	w := s.a.stdout
	var err error
	switch s.a.output {
	case "json":
		if s.entries == 0 {
			_, err = io.WriteString(w, "{\n  \"items\": [],\n  \"next_cursor\": null\n}\n")
		} else {
			_, err = io.WriteString(w, "\n  ],\n  \"next_cursor\": null\n}\n")
		}
	case "yaml":
		if s.entries == 0 {
			_, err = io.WriteString(w, "items: []\n")
		}
		if err == nil {
			_, err = io.WriteString(w, "next_cursor: null\n")
		}
	case "table":
		if s.t == nil {
			s.t = newTable(w)
			s.t.header(append([]string{"REQUEST"}, entryHeader...)...)
			err = s.t.flush()
		}
	}
	return err
}

func (a *app) historyVerifyCmd() *cobra.Command {
	var local bool
	cmd := &cobra.Command{
		Use:   "verify [ID]",
		Short: "Check the history hash chain of every request, or of one",
		Long: `Ask the server to check the history of every request, or of request ID (the
audit or admin scope): every entry intact and chained to the one before, from
the creation on, and the last one at the request's current version with the
hash the request records as its latest, so that deleted entries show too, the
newest ones included. It lists the requests whose history does not check out.

With --local, read request ID and its history and check the hash chain on this
machine instead, not trusting the server (the approvals:read scope): every
entry from the creation on, each hash over its contents and the previous hash,
up to the request's current version. Keep the HEAD hash somewhere else, and you
can later show that the history up to it has not changed.

Exit status 0 when the history verifies, 1 when not.`,
		Example: `  approvalctl history verify
  approvalctl history verify $ID -o json
  approvalctl history verify --local $ID`,
		ValidArgsFunction: a.completeApprovals,
		Args: func(cmd *cobra.Command, args []string) error {
			if local || len(args) > 0 {
				return argsExactly("ID")(cmd, args)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			if local {
				return a.verifyLocally(cl, args[0])
			}
			id := ""
			if len(args) > 0 {
				id = args[0]
			}
			v, err := cl.VerifyHistory(a.ctx, id)
			if err != nil {
				return err
			}
			err = a.emit(v.Raw(), func(t *table) {
				t.header("VERIFIED", "REQUESTS", "ENTRIES", "FAILURES")
				t.row(strconv.FormatBool(v.Verified), strconv.FormatInt(v.Requests, 10), strconv.FormatInt(v.Entries, 10), strconv.FormatInt(v.FailuresTotal, 10))
				if len(v.Failures) == 0 {
					return
				}
				t.row()
				t.header("REQUEST", "ERROR")
				for _, f := range v.Failures {
					t.row(f.RequestID, f.Error)
				}
				if more := v.FailuresTotal - int64(len(v.Failures)); more > 0 {
					t.row(fmt.Sprintf("… and %d more", more))
				}
			}, func() []string {
				var ids []string
				for _, f := range v.Failures {
					ids = append(ids, f.RequestID)
				}
				return ids
			})
			if err != nil {
				return err
			}
			if !v.Verified {
				what := "every request"
				if id != "" {
					what = id
				}
				return fmt.Errorf("the history of %s does not verify: %d request(s) failed", what, v.FailuresTotal)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&local, "local", false, "check request ID's chain on this machine, not trusting the server")
	return cmd
}

// verifyLocally checks request id's history chain here (history verify --local).
func (a *app) verifyLocally(cl *client.Client, id string) error {
	h, verr := cl.VerifyHistoryLocally(a.ctx, id)
	if h == nil {
		return verr
	}
	res := struct {
		ID             string `json:"id"`
		Entries        int    `json:"entries"`
		Verified       bool   `json:"verified"`
		Error          string `json:"error,omitempty"`
		ServerVerified bool   `json:"server_verified"`
		Head           string `json:"head"`
	}{ID: id, Entries: len(h.Items), Verified: verr == nil, ServerVerified: h.Verified}
	if verr != nil {
		res.Error = verr.Error()
	}
	if len(h.Items) > 0 {
		res.Head = h.Items[len(h.Items)-1].Hash
	}
	err := a.emitValue(res, func(t *table) {
		t.header("ID", "ENTRIES", "VERIFIED", "HEAD")
		t.row(res.ID, strconv.Itoa(res.Entries), strconv.FormatBool(res.Verified), res.Head)
	}, func() []string { return []string{res.ID} })
	if err != nil {
		return err
	}
	if verr != nil {
		return fmt.Errorf("the history of %s does not verify: %w", id, verr)
	}
	return nil
}

// changedFields lists the fields a history entry changed.
func changedFields(changes json.RawMessage) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(changes, &m) != nil {
		return "?"
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	if len(keys) > 6 {
		return fmt.Sprintf("%d fields", len(keys))
	}
	slices.Sort(keys)
	return strings.Join(keys, ",")
}
