package sqlstore

import (
	"context"
	"fmt"
	"time"

	"approvald/approval"
)

// versioned is a table of named rows that carry a version, which every
// update increments (stored policies, notification channels), as
// createVersioned and updateVersioned write it.
type versioned[T any] struct {
	what string // what a row is, for errors: "policy"
	// insert stores values, then the name and the creation time, doing
	// nothing for a name stored already; update stores values where the
	// name and the version are the two parameters after them.
	insert, update string
	// get reads the row named name through q, with the locking clause lock.
	get func(ctx context.Context, q Querier, name, lock string) (*T, error)
	// values are the stored values of the columns insert and update write.
	values func(*T) ([]any, error)
	// fields returns the row's name, version and times, to read and set.
	fields func(*T) (name *string, version *int64, created, updated *time.Time)
}

// createVersioned stores x at version 1, its times at store precision, so
// that x is as it reads back. A name stored already, or being stored
// concurrently by a transaction that then commits, is a KindConflict error.
func createVersioned[T any](ctx context.Context, s *Store, v versioned[T], x *T) error {
	op := "create " + v.what
	name, version, created, updated := v.fields(x)
	*version, *created, *updated = 1, approval.TruncateTime(*created), approval.TruncateTime(*updated)
	values, err := v.values(x)
	if err != nil {
		return s.fail(op, err)
	}
	return s.change(ctx, op, func(tx Tx) error {
		n, err := tx.Exec(ctx, v.insert, append(values, *name, *created)...)
		if err == nil && n == 0 {
			return approval.Errorf(approval.KindConflict, approval.CodeConflict, "a %s named %q exists", v.what, *name)
		}
		return s.fail(op, err)
	})
}

// updateVersioned loads the row named name, locked (FOR NO KEY UPDATE,
// which lets other rows name it meanwhile: the name does not change), calls
// fn with it and stores the result with the version incremented and the
// update time at store precision, in one transaction, which may run again
// (fn included) after a conflict. It returns fn's error unchanged, and an
// internal *approval.Error when fn changed the name or the creation time.
func updateVersioned[T any](ctx context.Context, s *Store, v versioned[T], name string, fn func(*T) error) (*T, error) {
	op := "update " + v.what
	var out *T
	err := s.change(ctx, op, func(tx Tx) error {
		x, err := v.get(ctx, tx, name, s.lock("NO KEY UPDATE"))
		if err != nil {
			return err
		}
		_, version, created, _ := v.fields(x)
		was, createdAt := *version, *created
		if err := fn(x); err != nil {
			return err
		}
		newName, version, created, updated := v.fields(x)
		if *newName != name || !created.Equal(createdAt) {
			return s.fail(op, fmt.Errorf("%s %q: its name and creation time cannot change", v.what, name))
		}
		*version, *created, *updated = was+1, createdAt, approval.TruncateTime(*updated)
		values, err := v.values(x)
		var n int64
		if err == nil {
			n, err = tx.Exec(ctx, v.update, append(values, name, was)...)
		}
		if err == nil && n != 1 {
			err = fmt.Errorf("%s %q at version %d: %d rows updated", v.what, name, was, n)
		}
		out = x
		return s.fail(op, err)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
