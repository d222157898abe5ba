// Package logging builds l2gw's slog handlers (text for people, JSON for
// machines, durations readable in both, the request id of the context on
// every line) and the HTTP middleware that gives every answer an
// X-Openstack-Request-Id and logs it in an access log line.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Log formats.
const (
	FormatText = "text"
	FormatJSON = "json"
)

// Options configure New; the zero value is text at Info.
type Options struct {
	Format string     // FormatText (default) or FormatJSON
	Level  slog.Level // minimum level
}

// New returns a logger writing to w in opts.Format. Durations print as Go
// durations ("1.5ms") in both formats (slog's JSON handler would print
// nanoseconds), and a record logged with a context carrying a request id
// (WithRequestID) gets a request_id attribute.
func New(w io.Writer, opts Options) (*slog.Logger, error) {
	ho := &slog.HandlerOptions{Level: opts.Level, ReplaceAttr: readableDuration}
	var h slog.Handler
	switch opts.Format {
	case FormatText, "":
		h = slog.NewTextHandler(w, ho)
	case FormatJSON:
		h = slog.NewJSONHandler(w, ho)
	default:
		return nil, fmt.Errorf("log format %q: want %s or %s", opts.Format, FormatText, FormatJSON)
	}
	return slog.New(requestIDHandler{h}), nil
}

// WithRequestIDs returns l, or when l's handler does not add request ids
// (a logger New did not make), l with a handler that does.
func WithRequestIDs(l *slog.Logger) *slog.Logger {
	if _, ok := l.Handler().(requestIDHandler); ok {
		return l
	}
	return slog.New(requestIDHandler{l.Handler()})
}

// DefaultFormat is the format for a log written to f: text on a terminal,
// where a person reads it, JSON otherwise (a file, a pipe, journald,
// /dev/null).
func DefaultFormat(f *os.File) string {
	if _, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err == nil {
		return FormatText
	}
	return FormatJSON
}

// readableDuration renders time.Duration attributes with String.
func readableDuration(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}

type requestIDKey struct{}

// WithRequestID returns ctx carrying the request id id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id ctx carries ("" when none).
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// requestIDHandler adds request_id to records logged with a context that
// carries one (the *Context logging methods).
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r = r.Clone()
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// Elapsed is a duration attribute rounded for reading (microseconds).
func Elapsed(key string, since time.Time) slog.Attr {
	return slog.Duration(key, time.Since(since).Round(time.Microsecond))
}
