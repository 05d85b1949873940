package sqlite

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"approvald/approval"
)

// A database that cannot grow (a full disk, here a page limit) answers
// writes with KindUnavailable and a Retry-After (503 to clients), and Ping
// — readiness — fails until a write commits again.
func TestFull_WritesAreUnavailableAndReadinessFailsUntilThereIsRoom(t *testing.T) {
	t.Parallel()
	s := open(t, filepath.Join(t.TempDir(), "full.db"))
	ctx := t.Context()
	p := approval.Principal{ID: "user:alice", Scopes: []approval.Scope{approval.ScopeCreate}}
	payload := json.RawMessage(`{"filler":"` + strings.Repeat("x", 100_000) + `"}`)
	create := func() error {
		id, _ := uuid.NewV7()
		r, ch, err := approval.New(id.String(), approval.Draft{Title: "big", Payload: payload}, p,
			approval.Mandate{Policy: approval.DefaultPolicy(), Source: "default"}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.CreateApproval(ctx, r, ch, nil)
		return err
	}
	if err := create(); err != nil {
		t.Fatal(err)
	}
	var pages int
	if err := s.writer.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := s.writer.ExecContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", pages)); err != nil {
		t.Fatal(err)
	}
	var err error
	for range 50 {
		if err = create(); err != nil {
			break
		}
	}
	var e *approval.Error
	if !errors.As(err, &e) || e.Kind != approval.KindUnavailable || e.RetryAfter <= 0 || !strings.Contains(e.Message, "full") {
		t.Fatalf("a create on a full database: %#v, want KindUnavailable with a Retry-After", err)
	}
	if err := s.Ping(ctx); approval.KindOf(err) != approval.KindUnavailable {
		t.Fatalf("readiness on a full database: %v, want unavailable", err)
	}
	if _, err := s.writer.ExecContext(ctx, "PRAGMA max_page_count = 1073741823"); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("readiness once there is room: %v", err)
	}
	if err := create(); err != nil {
		t.Fatalf("a create once there is room: %v", err)
	}
}
