package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/l2gw/l2gw/internal/agentwire"
)

// DefaultReadTimeout bounds how long a request's body may take to arrive,
// from when its headers were read.
const DefaultReadTimeout = 30 * time.Second

// DefaultWriteTimeout bounds how long an answer may take to be written,
// from when its headers were read: a 15 MB list needs a reader of at least
// 250 kB/s.
const DefaultWriteTimeout = 60 * time.Second

// DefaultMaxConnections bounds the API's open connections: far above
// what agents (a plan stream and a request or two each) and clients of a
// large site hold, far below the file descriptors a flood would exhaust.
const DefaultMaxConnections = 8192

// deadlines sets a read and a write deadline on the connection of every
// request but the long-lived streams (plan streams, the status page's
// events), which set their own write deadline per write and must not be
// cut while idle. http.Server's ReadTimeout and WriteTimeout would apply to
// the streams too, hence per request here. A zero duration means none.
func deadlines(next http.Handler, read, write time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		// A deadline set for an earlier request on the same connection
		// stays unless replaced: set both every time (zero clears).
		// The read deadline covers the body only: once it is read (or
		// when there is none) the server reads on in the background to
		// notice a client going away, and a timeout there would cancel the
		// request's context.
		var rd, wd time.Time
		if !streaming(r) {
			now := time.Now()
			if read > 0 && r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
				rd = now.Add(read)
				r.Body = &bodyDeadline{ReadCloser: r.Body, rc: rc}
			}
			if write > 0 {
				wd = now.Add(write)
			}
		}
		_ = rc.SetReadDeadline(rd)
		_ = rc.SetWriteDeadline(wd)
		if !wd.IsZero() {
			// Work for an answer that can no longer be written is wasted:
			// the request's context ends with the write deadline.
			ctx, cancel := context.WithDeadline(r.Context(), wd)
			defer cancel()
			r = r.WithContext(ctx)
		}
		next.ServeHTTP(w, r)
	})
}

// streaming reports whether r asks for a long-lived answer: a switch's or a
// host's plan stream, or the status page's server-sent events.
func streaming(r *http.Request) bool {
	if r.Method != http.MethodGet {
		return false
	}
	p := r.URL.Path
	if p == "/ui/api/events" {
		return true
	}
	return strings.HasPrefix(p, agentwire.Prefix+"/") && strings.HasSuffix(p, "/plan")
}

// bodyDeadline clears the connection's read deadline once the body has
// been read to its end.
type bodyDeadline struct {
	io.ReadCloser
	rc *http.ResponseController
}

func (b *bodyDeadline) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) {
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
