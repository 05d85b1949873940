package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"approvald/client"
)

func (a *app) waitCmd() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "wait ID",
		Short: "Block until an approval request is decided; the exit code tells the outcome",
		Long: `Block until the approval request is settled, then print it and exit with:

  0  approved
  1  rejected
  2  cancelled, expired or revoked
  3  anything else: the request is in error (its decision could not be
     delivered) or was sent back (changes_requested: its requester must edit
     and resubmit it), --timeout passed, the wait was interrupted, or
     approvalctl failed (an unknown id, a bad token, an unreachable server, a
     bad flag)

Requests with a service rule are settled once the decision is delivered, not
when it is made. wait long-polls the server, so it sees a decision at once.
While it waits on a terminal it shows a progress line on standard error;
piped, it prints nothing but the result.`,
		Example: `  approvalctl wait $ID --timeout 2h && ./deploy.sh
  approvalctl wait $ID -o json > decision.json`,
		Args:              argsExactly("ID"),
		ValidArgsFunction: a.completeApprovals,
		Annotations:       map[string]string{waitExitAnnotation: waitExitAlways},
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.waitFor(args[0], timeout)
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "give up after this long (exit 3); 0 waits for ever")
	return cmd
}

// waitFor waits until request id is settled, prints it, and returns the
// exitError its outcome calls for.
func (a *app) waitFor(id string, timeout time.Duration) error {
	cl, err := a.client()
	if err != nil {
		return &exitError{exitWaitErr, err}
	}
	ctx := a.ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var sp *spinner
	if a.stderrIsTerminal() {
		sp = startSpinner(a.stderr, "waiting for "+id, 100*time.Millisecond)
	}
	r, err := cl.WaitWith(ctx, id, client.WaitOptions{OnChange: func(r *client.ApprovalRequest) {
		sp.set(waitProgress(r))
	}})
	sp.stop()
	if err != nil {
		switch {
		case a.ctx.Err() != nil:
			err = fmt.Errorf("interrupted while waiting for %s%s", id, stillIn(r))
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
			err = fmt.Errorf("timed out after %s waiting for %s%s", timeout, id, stillIn(r))
		}
		return &exitError{exitWaitErr, err}
	}
	if err := a.emitApproval(r); err != nil {
		return &exitError{exitWaitErr, err}
	}
	switch r.Status {
	case client.StatusApproved:
		return nil
	case client.StatusRejected:
		return &exitError{exitRejected, nil}
	case client.StatusCancelled, client.StatusExpired, client.StatusRevoked:
		return &exitError{exitEnded, nil}
	case client.StatusChangesRequested:
		return &exitError{exitWaitErr, fmt.Errorf("request %s was sent back: changes were requested%s; edit it and resubmit it", id, lastChangeRequest(r))}
	}
	why := "its decision could not be delivered"
	if r.Delivery != nil && r.Delivery.LastError != "" {
		why += ": " + oneLine(r.Delivery.LastError, 200)
	}
	prev := ""
	if r.PreviousStatus != nil {
		prev = " (" + string(*r.PreviousStatus) + ")"
	}
	return &exitError{exitWaitErr, fmt.Errorf("request %s is in error%s: %s", id, prev, why)}
}

// lastChangeRequest quotes the comment of the review that sent r back.
func lastChangeRequest(r *client.ApprovalRequest) string {
	for i := len(r.Reviews) - 1; i >= 0; i-- {
		if rv := r.Reviews[i]; rv.Decision == client.RequestChanges && !rv.Void {
			return fmt.Sprintf(" by %s: %q", rv.Reviewer, oneLine(rv.Comment, 200))
		}
	}
	return ""
}

// stillIn says the status a request was last seen in.
func stillIn(r *client.ApprovalRequest) string {
	if r == nil {
		return ""
	}
	return " (still " + string(r.Status) + ")"
}

// waitProgress is the progress line for a request being waited on.
func waitProgress(r *client.ApprovalRequest) string {
	s := fmt.Sprintf("%s is %s", r.ID, r.Status)
	if r.Progress.PendingReason != "" {
		s += ": " + r.Progress.PendingReason
	} else if strings.HasPrefix(string(r.Status), "acknowledged_") {
		s += ": delivering the decision to " + r.ServiceRule
	}
	return s
}

// spinner draws a one-line progress indicator on a terminal. A nil
// *spinner does nothing, so callers need not check whether one runs.
type spinner struct {
	w     io.Writer
	start time.Time
	mu    sync.Mutex
	text  string
	frame int
	quit  chan struct{}
	done  chan struct{}
}

var spinnerFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// startSpinner draws text on w and redraws it every tick until stop.
func startSpinner(w io.Writer, text string, tick time.Duration) *spinner {
	s := &spinner{w: w, start: time.Now(), text: text, quit: make(chan struct{}), done: make(chan struct{})}
	s.draw()
	go func() {
		defer close(s.done)
		t := time.NewTicker(tick)
		defer t.Stop()
		for {
			select {
			case <-s.quit:
				return
			case <-t.C:
				s.draw()
			}
		}
	}()
	return s
}

// set replaces the text.
func (s *spinner) set(text string) {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.text = text
	s.mu.Unlock()
	s.draw()
}

func (s *spinner) draw() {
	s.mu.Lock()
	defer s.mu.Unlock()
	line := fmt.Sprintf("%s %s (%s)", spinnerFrames[s.frame%len(spinnerFrames)], s.text, time.Since(s.start).Truncate(time.Second))
	s.frame++
	// \r and "erase line": the next draw replaces this one.
	fmt.Fprintf(s.w, "\r\x1b[K%s", truncate(line, 150))
}

// stop ends the drawing and erases the line.
func (s *spinner) stop() {
	if s == nil {
		return
	}
	select {
	case <-s.quit:
		return
	default:
	}
	close(s.quit)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprint(s.w, "\r\x1b[K")
}
