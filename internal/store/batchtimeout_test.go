package store

import (
	"context"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/testenv"
)

// TestWriteOutlastsBatchTimeout: on PostgreSQL, a write whose function is
// still running when its batch's Config.Timeout passes (between two
// statements; database/sql rolls the transaction back at that moment)
// fails as unavailable (503), not as an internal error (500: "transaction
// has already been committed or rolled back", as it was when statements
// ran under the request's context), and the store writes again at once.
func TestWriteOutlastsBatchTimeout(t *testing.T) {
	pg := testenv.StartPostgresServer(t)
	const timeout = 300 * time.Millisecond
	st, err := Open(t.Context(), testenv.PostgresDatabase(t, pg.DSN), Config{Timeout: timeout, PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := st.(*sqlStore)
	ctx := context.Background()
	slow := func(w *wtx) error {
		if _, err := w.exec(ctx, `UPDATE revision SET rev = rev WHERE id = 1`); err != nil {
			return err
		}
		time.Sleep(3 * timeout) //nolint:forbidigo // the write outlasts its batch's bound between two statements
		_, err := w.exec(ctx, `UPDATE revision SET rev = rev WHERE id = 1`)
		return err
	}
	_, err = s.write(ctx, slow)
	if err == nil || !IsUnavailable(err) {
		t.Fatalf("write outlasting the batch's timeout = %v; want an unavailable error (503)", err)
	}
	t.Logf("error: %v", err)
	if _, err := s.Revision(ctx); err != nil {
		t.Errorf("Revision after the cut batch: %v", err)
	}
	if _, err := s.write(ctx, func(w *wtx) error {
		_, err := w.exec(ctx, `UPDATE revision SET rev = rev WHERE id = 1`)
		return err
	}); err != nil {
		t.Errorf("next write: %v", err)
	}
}
