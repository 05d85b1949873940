package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"approvald/client"
)

// lifecycleCmds are the commands of the review lifecycle beyond approve
// and reject: sending a request back, resubmitting it, revoking an approval.
func (a *app) lifecycleCmds() []*cobra.Command {
	return []*cobra.Command{a.requestChangesCmd(), a.resubmitCmd(), a.revokeCmd()}
}

func (a *app) requestChangesCmd() *cobra.Command {
	var (
		comment string
		ifMatch int64
	)
	cmd := &cobra.Command{
		Use:   "request-changes ID",
		Short: "Send an approval request back to its requester, who edits and resubmits it",
		Long: `Send a pending request back to its requester with a comment (required): it
moves to changes_requested, nothing is delivered, and the requester is told.
The requester edits it ("approvalctl edit") and resubmits it ("approvalctl
resubmit"); the reviews given before are then void.`,
		Example:           `  approvalctl request-changes $ID --comment "remove the cells under 10"`,
		Args:              argsExactly("ID"),
		ValidArgsFunction: a.completeInbox,
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(comment) == "" {
				return usageError{errors.New("request-changes needs --comment: say what to change")}
			}
			return show(a, func(cl *client.Client) (*client.ApprovalRequest, error) {
				return cl.RequestChanges(a.ctx, args[0], comment, ifMatchOpts(ifMatch)...)
			}, a.emitApproval)
		},
	}
	cmd.Flags().StringVarP(&comment, "comment", "m", "", "what the requester should change (required)")
	cmd.Flags().Int64Var(&ifMatch, "if-match", 0, "only if the request is still at this version")
	return cmd
}

func (a *app) resubmitCmd() *cobra.Command {
	var ifMatch int64
	cmd := &cobra.Command{
		Use:               "resubmit ID",
		Short:             "Send a request whose changes were requested back to its reviewers (its requester or an admin)",
		Example:           `  approvalctl edit $ID --payload-file fixed.json && approvalctl resubmit $ID`,
		Args:              argsExactly("ID"),
		ValidArgsFunction: a.completeApprovals,
		RunE: func(cmd *cobra.Command, args []string) error {
			return show(a, func(cl *client.Client) (*client.ApprovalRequest, error) {
				return cl.Resubmit(a.ctx, args[0], ifMatchOpts(ifMatch)...)
			}, a.emitApproval)
		},
	}
	cmd.Flags().Int64Var(&ifMatch, "if-match", 0, "resubmit only if the request is still at this version (the one you edited)")
	return cmd
}

func (a *app) revokeCmd() *cobra.Command {
	var (
		reason  string
		ifMatch int64
	)
	cmd := &cobra.Command{
		Use:   "revoke ID",
		Short: "Take back an approval, with a reason (an admin, or a reviewer of a rule that may revoke)",
		Long: `Revoke an approved request: it moves to revoked (final), and the revocation is
delivered to its service rule like a decision. An admin may revoke any
approval; a reviewer only under a rule of the request's policy marked
can_revoke.`,
		Example:           `  approvalctl revoke $ID --reason "the output had a name in it"`,
		Args:              argsExactly("ID"),
		ValidArgsFunction: a.completeApprovals,
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(reason) == "" {
				return usageError{errors.New("revoke needs --reason")}
			}
			return show(a, func(cl *client.Client) (*client.ApprovalRequest, error) {
				return cl.Revoke(a.ctx, args[0], reason, ifMatchOpts(ifMatch)...)
			}, a.emitApproval)
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why the approval is taken back (required)")
	cmd.Flags().Int64Var(&ifMatch, "if-match", 0, "revoke only if the request is still at this version")
	return cmd
}

// parseItemDecisions reads --item flags: ID=approve or ID=reject.
func parseItemDecisions(flags []string) ([]client.ItemDecision, error) {
	var out []client.ItemDecision
	for _, f := range flags {
		id, d, _ := strings.Cut(f, "=")
		it := client.ItemDecision{ID: id}
		switch d {
		case "approve":
			it.Decision = "approve"
		case "reject":
			it.Decision = "reject"
		default:
			return nil, usageError{fmt.Errorf("--item %q: want ID=approve or ID=reject", f)}
		}
		if id == "" {
			return nil, usageError{fmt.Errorf("--item %q: the item's id is missing", f)}
		}
		out = append(out, it)
	}
	return out, nil
}

// batchColumns print the results of a batch review.
var batchColumns = columns[client.BatchResult]{
	header: []string{"ID", "RESULT", "STATUS", "DETAIL"},
	row: func(r client.BatchResult) []string {
		if r.Err != nil {
			detail := r.Err.Code
			if r.Err.Detail != "" {
				detail += ": " + oneLine(r.Err.Detail, 120)
			}
			return []string{r.ID, strconv.Itoa(r.Status), "-", detail}
		}
		return []string{r.ID, strconv.Itoa(r.Status), string(r.Approval.Status), truncate(r.Approval.Title, 50)}
	},
	name: func(r client.BatchResult) string { return r.ID },
}

// batchReview reviews every id with d in one call and prints a result per
// id; it fails (exit 1) when any review was refused, after printing all.
func (a *app) batchReview(ids []string, d client.Decision, comment string) error {
	if len(ids) > client.MaxBatchReview {
		return usageError{fmt.Errorf("at most %d requests at once, not %d", client.MaxBatchReview, len(ids))}
	}
	cl, err := a.client()
	if err != nil {
		return err
	}
	reviews := make([]client.BatchReviewItem, len(ids))
	for i, id := range ids {
		reviews[i] = client.BatchReviewItem{ID: id, Decision: d, Comment: comment}
	}
	results, err := cl.BatchReview(a.ctx, reviews)
	if err != nil {
		return err
	}
	type rawResult struct {
		ID       string          `json:"id"`
		Status   int             `json:"status"`
		Approval json.RawMessage `json:"approval,omitempty"`
		Error    *client.Error   `json:"error,omitempty"`
	}
	out := struct {
		Results []rawResult `json:"results"`
	}{Results: []rawResult{}}
	failed := 0
	for _, r := range results {
		rr := rawResult{ID: r.ID, Status: r.Status, Error: r.Err}
		if r.Approval != nil {
			rr.Approval = r.Approval.Raw()
		}
		if r.Status >= http.StatusBadRequest {
			failed++
		}
		out.Results = append(out.Results, rr)
	}
	if err := emitRows(a, out, batchColumns, results); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d reviews were refused", failed, len(results))
	}
	return nil
}
