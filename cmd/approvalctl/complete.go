package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"approvald/client"
)

// Shell completion of ids and names asks the server; it must answer fast
// and fail quietly (no completions) when it cannot.

const completionTimeout = 3 * time.Second

// completeWith runs list against the configured server and returns its
// completions, or none on any error.
func (a *app) completeWith(args []string, list func(context.Context, *client.Client) []cobra.Completion) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	cl, err := a.client()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ctx, cancel := context.WithTimeout(a.ctx, completionTimeout)
	defer cancel()
	return list(ctx, cl), cobra.ShellCompDirectiveNoFileComp
}

func approvalCompletions(items []*client.ApprovalRequest) []cobra.Completion {
	var out []cobra.Completion
	for _, r := range items {
		out = append(out, cobra.CompletionWithDesc(r.ID, string(r.Status)+": "+truncate(r.Title, 40)))
	}
	return out
}

// completeApprovals offers the newest requests.
func (a *app) completeApprovals(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return a.completeWith(args, func(ctx context.Context, cl *client.Client) []cobra.Completion {
		page, err := cl.List(ctx, client.ListOptions{Limit: 50})
		if err != nil {
			return nil
		}
		return approvalCompletions(page.Items)
	})
}

// completeInbox offers the requests awaiting the caller's review.
func (a *app) completeInbox(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return a.completeWith(args, func(ctx context.Context, cl *client.Client) []cobra.Completion {
		page, err := cl.List(ctx, client.ListOptions{AwaitingMe: true, Limit: 50})
		if err != nil {
			return nil
		}
		return approvalCompletions(page.Items)
	})
}

func (a *app) completeRules(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return a.completeWith(nil, func(ctx context.Context, cl *client.Client) []cobra.Completion {
		rules, err := cl.ServiceRules(ctx)
		if err != nil {
			return nil
		}
		var out []cobra.Completion
		for _, r := range rules {
			out = append(out, cobra.CompletionWithDesc(r.Name, r.URL))
		}
		return out
	})
}

func (a *app) completePolicies(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return a.completeWith(nil, func(ctx context.Context, cl *client.Client) []cobra.Completion {
		ps, err := cl.Policies(ctx)
		if err != nil {
			return nil
		}
		var out []cobra.Completion
		for _, p := range ps {
			out = append(out, cobra.CompletionWithDesc(p.Name, p.Description))
		}
		return out
	})
}

func (a *app) completeKeys(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return a.completeWith(args, func(ctx context.Context, cl *client.Client) []cobra.Completion {
		keys, err := cl.APIKeys(ctx)
		if err != nil {
			return nil
		}
		var out []cobra.Completion
		for _, k := range keys {
			if k.RevokedAt == nil {
				out = append(out, cobra.CompletionWithDesc(k.ID, k.Name))
			}
		}
		return out
	})
}
