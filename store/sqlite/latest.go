package sqlite

import (
	"context"
	"fmt"

	"approvald/approval"
)

// LatestOutboxSeq returns the highest outbox sequence number (0 when the
// outbox is empty). It returns an internal *approval.Error when the
// database fails.
func (s *Store) LatestOutboxSeq(ctx context.Context) (int64, error) {
	var seq int64
	if err := s.reader.QueryRowContext(ctx, "SELECT COALESCE(MAX(seq), 0) FROM outbox").Scan(&seq); err != nil {
		return 0, approval.Internal(fmt.Errorf("sqlite: latest outbox seq: %w", err))
	}
	return seq, nil
}
