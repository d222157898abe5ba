package switchagent

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRateLog(t *testing.T) {
	var lines []string
	h := recordHandler(func(r slog.Record) {
		s := r.Message
		r.Attrs(func(a slog.Attr) bool { s += " " + a.String(); return true })
		lines = append(lines, s)
	})
	now := time.Unix(0, 0)
	r := newRateLog(slog.New(h), time.Minute)
	r.now = func() time.Time { return now }
	r.Warn("a", "k", 1)
	r.Warn("a", "k", 1)
	r.Warn("a", "k", 2) // differs: logged
	r.Info("a", "k", 1) // another level: logged
	now = now.Add(59 * time.Second)
	r.Warn("a", "k", 1)
	now = now.Add(time.Second)
	r.Warn("a", "k", 1)
	r.Warn("a", "k", 1)
	now = now.Add(time.Minute)
	r.Warn("a", "k", 1)
	want := []string{"a k=1", "a k=2", "a k=1", "a k=1 suppressed=2", "a k=1 suppressed=1"}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}

type recordHandler func(slog.Record)

func (h recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h recordHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h recordHandler) WithGroup(string) slog.Handler            { return h }
func (h recordHandler) Handle(_ context.Context, r slog.Record) error {
	h(r)
	return nil
}
