package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/l2gw/l2gw/internal/model"
)

// Each write of a PostgreSQL group commit runs in its own SAVEPOINT, a
// round trip of its own. A write that asks for it (writeOwnSavepoint) gets
// its SAVEPOINT sent with its first statement instead, in one simple-
// protocol query (which takes several statements; pgx quotes the
// arguments): "SAVEPOINT w; DELETE …" (execFirst) or "SELECT …; SAVEPOINT
// w" (scanFirst: a query's rows are those of its first statement; the
// read changes nothing, so the write's changes still all come after its
// savepoint). On SQLite the batch sets the savepoint as before.

// savepointState says who sets a write's SAVEPOINT and whether it is set.
type savepointState int

const (
	spByBatch   savepointState = iota // the batch set it before the write
	spPending                         // left to the write's first statement, not sent yet
	spSet                             // set with the write's first statement
	spAfterRead                       // sent after a read that failed: maybe not set
)

// writeOwnSavepoint is write for a write whose first statement is run
// with execFirst or scanFirst, and whose other statements come after it.
func (s *sqlStore) writeOwnSavepoint(ctx context.Context, fn func(w *wtx) error) (int64, error) {
	if s.wconn != nil {
		return s.writeSQLite(ctx, fn)
	}
	return s.writePostgresReq(ctx, &wreq{ctx: ctx, fn: fn, done: make(chan struct{}), ownSavepoint: true})
}

// execFirst runs text as the write's first statement, with its savepoint
// when the batch left that to it.
func (w *wtx) execFirst(ctx context.Context, text string, args ...any) (sql.Result, error) {
	if w.sp != spPending {
		return w.exec(ctx, text, args...)
	}
	w.sp = spSet // SAVEPOINT runs first: whatever fails after it, it is set
	return w.unprepared().ExecContext(ctx, "SAVEPOINT w; "+text, append([]any{pgx.QueryExecModeSimpleProtocol}, args...)...)
}

// scanFirst runs the read text as the write's first statement and scans
// its one row into dest, setting the write's savepoint after it when the
// batch left that to it.
func (w *wtx) scanFirst(ctx context.Context, dest []any, text string, args ...any) error {
	if w.sp != spPending {
		return w.queryRow(ctx, text, args...).Scan(dest...)
	}
	err := w.unprepared().QueryRowContext(ctx, text+"; SAVEPOINT w", append([]any{pgx.QueryExecModeSimpleProtocol}, args...)...).Scan(dest...)
	if err != nil {
		w.sp = spAfterRead
		return err
	}
	w.sp = spSet
	return nil
}

// undo undoes a failed write (err) in its batch: back to its savepoint, or
// nothing to do when it failed before it set one, changing nothing. An
// error means the batch's transaction cannot go on.
func (w *wtx) undo(ctx context.Context, err error) error {
	switch w.sp {
	case spPending:
		// Its statements, if any, were reads; a refusal (a fault) leaves
		// the transaction usable, a failed statement does not.
		var f *model.Fault
		if errors.As(err, &f) {
			return nil
		}
		return fmt.Errorf("statement failed before the savepoint: %w", err)
	case spAfterRead:
		// "ROLLBACK TO w" would reach the previous write's savepoint.
		return fmt.Errorf("first statement failed: %w", err)
	}
	_, rerr := w.exec(ctx, `ROLLBACK TO w`)
	return rerr
}
