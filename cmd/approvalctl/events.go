package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"approvald/client"
)

func (a *app) eventsCmd() *cobra.Command {
	var (
		o     client.EventOptions
		after int64
		count int
	)
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Follow the event stream: every change of every request, as it happens",
		Long: `Follow the server-sent event stream until interrupted (or --count events):
one line per event with its stream position (SEQ), type, request, status and
version. -o json prints each event as one line of JSON (JSON Lines), -o yaml as
YAML documents, -o name the request ids. A dropped connection is resumed where
it left off; --after SEQ replays the events after an earlier position first.`,
		Example: `  approvalctl events
  approvalctl events --type approval.decided,approval.delivery_failed -o json
  approvalctl events --request $ID --count 1`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("after") {
				o.After = &after
			}
			cl, err := a.client()
			if err != nil {
				return err
			}
			stream, err := cl.Events(a.ctx, o)
			if err != nil {
				return err
			}
			defer stream.Close()
			if a.output == "table" {
				fmt.Fprintf(a.stdout, "%-8s %-26s %-36s %-22s %-8s %s\n", "SEQ", "TYPE", "REQUEST", "STATUS", "VERSION", "AT")
			}
			for n := 0; count == 0 || n < count; n++ {
				ev, err := stream.Next()
				if err != nil {
					if errors.Is(err, context.Canceled) && a.ctx.Err() != nil {
						return nil // interrupted: the normal end
					}
					return err
				}
				if err := a.printEvent(ev); err != nil {
					return err
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.RequestID, "request", "", "only the events of this request")
	f.StringSliceVar(&o.Types, "type", nil, "only events of these types, such as approval.decided (repeat or comma-separate)")
	f.Int64Var(&after, "after", 0, "first replay the events after this stream position (a SEQ printed before)")
	f.IntVar(&count, "count", 0, "stop after this many events (0: follow until interrupted)")
	_ = cmd.RegisterFlagCompletionFunc("type", cobra.FixedCompletions([]string{
		"approval.created", "approval.updated", "approval.commented", "approval.reviewed", "approval.decided",
		"approval.completed", "approval.expired", "approval.delivery_failed", "approval.review_requested", "approval.outcome_recorded",
	}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// printEvent prints one event as soon as it arrives.
func (a *app) printEvent(ev *client.Event) error {
	switch a.output {
	case "json":
		var buf bytes.Buffer
		if err := json.Compact(&buf, ev.Raw()); err != nil {
			return err
		}
		buf.WriteByte('\n')
		_, err := a.stdout.Write(buf.Bytes())
		return err
	case "yaml":
		b, err := jsonToYAML(ev.Raw())
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(a.stdout, "---\n%s", b)
		return err
	case "name":
		_, err := fmt.Fprintln(a.stdout, ev.Data.ID)
		return err
	}
	_, err := fmt.Fprintf(a.stdout, "%-8d %-26s %-36s %-22s %-8d %s\n", ev.Seq, ev.Type, ev.Data.ID, ev.Data.Status, ev.Data.Version, ev.Timestamp.UTC().Format(time.RFC3339))
	return err
}
