package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"
)

func TestNewFormats(t *testing.T) {
	for _, tc := range []struct {
		format string
		want   string // the line's duration and request id as written
	}{
		{FormatText, `took=1.5ms request_id=req-1`},
		{"", `took=1.5ms request_id=req-1`},
		{FormatJSON, `"took":"1.5ms","request_id":"req-1"`},
	} {
		t.Run("format="+tc.format, func(t *testing.T) {
			var b bytes.Buffer
			l, err := New(&b, Options{Format: tc.format})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			ctx := WithRequestID(context.Background(), "req-1")
			l.With("component", "x").InfoContext(ctx, "done", "took", 1500*time.Microsecond)
			if !strings.Contains(b.String(), tc.want) {
				t.Errorf("logged %q; want it to contain %q", b.String(), tc.want)
			}
			if tc.format == FormatJSON {
				var m map[string]any
				if err := json.Unmarshal(b.Bytes(), &m); err != nil {
					t.Errorf("JSON line %q: %v", b.String(), err)
				}
			}
		})
	}
	if _, err := New(&bytes.Buffer{}, Options{Format: "xml"}); err == nil {
		t.Error(`New(Format "xml") = nil error; want one`)
	}
}

func TestNoRequestIDWithoutContext(t *testing.T) {
	var b bytes.Buffer
	l, _ := New(&b, Options{Format: FormatJSON})
	l.Info("x")
	if strings.Contains(b.String(), "request_id") {
		t.Errorf("logged %q; want no request_id", b.String())
	}
	// A foreign logger gets request ids once, however often it is wrapped.
	b.Reset()
	fl := WithRequestIDs(WithRequestIDs(slog.New(slog.NewJSONHandler(&b, nil))))
	fl.InfoContext(WithRequestID(context.Background(), "req-2"), "x")
	if n := strings.Count(b.String(), `"request_id":"req-2"`); n != 1 {
		t.Errorf("logged %q: %d request ids; want 1", b.String(), n)
	}
}

func TestDefaultFormat(t *testing.T) {
	f, err := os.Create(t.TempDir() + "/log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for name, f := range map[string]*os.File{"file": f, "devnull": null, "pipe": w} {
		if got := DefaultFormat(f); got != FormatJSON {
			t.Errorf("DefaultFormat(%s) = %q; want %q", name, got, FormatJSON)
		}
	}
	// A terminal: the master side of a new pseudo-terminal.
	pty, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("open /dev/ptmx: %v", err)
		}
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer pty.Close()
	if got := DefaultFormat(pty); got != FormatText {
		t.Errorf("DefaultFormat(pty) = %q; want %q", got, FormatText)
	}
}
