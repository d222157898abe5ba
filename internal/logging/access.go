package logging

import (
	"log/slog"
	"net/http"
	"regexp"
	"time"

	"github.com/google/uuid"

	"github.com/l2gw/l2gw/internal/metrics"
)

// RequestIDHeader is the response header carrying the request id, as
// Neutron (oslo.middleware's RequestId) sends it: "req-<uuid>".
const RequestIDHeader = "X-Openstack-Request-Id"

// globalRequestID is the form oslo.middleware accepts as a caller's
// global request id.
var globalRequestID = regexp.MustCompile(`^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// HTTPConfig configures HTTP; the zero value answers request ids and logs
// nothing.
type HTTPConfig struct {
	// Logger receives the access log lines; nil logs none.
	Logger *slog.Logger
	// AccessLog logs every request at Info once it is answered (a plan
	// stream when it ends): method, path, status, duration, request id.
	AccessLog bool
}

// HTTP wraps next: every answer gets a fresh request id "req-<uuid>" in
// RequestIDHeader, the request's context carries it (WithRequestID, so
// the lines logged about the request with a context name it), and, with
// AccessLog, one "request" line is logged per request. A caller's own
// X-Openstack-Request-Id of Neutron's form is logged as global_request_id.
func HTTP(next http.Handler, cfg HTTPConfig) http.Handler {
	log := slog.New(slog.DiscardHandler)
	if cfg.Logger != nil && cfg.AccessLog {
		log = WithRequestIDs(cfg.Logger)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := "req-" + uuid.NewString()
		w.Header().Set(RequestIDHeader, id)
		ctx := WithRequestID(r.Context(), id)
		sw := &metrics.StatusWriter{ResponseWriter: w}
		defer func() {
			attrs := []slog.Attr{
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", sw.Code()),
				Elapsed("duration", start),
				slog.String("remote", r.RemoteAddr),
			}
			if g := r.Header.Get(RequestIDHeader); globalRequestID.MatchString(g) {
				attrs = append(attrs, slog.String("global_request_id", g))
			}
			log.LogAttrs(ctx, slog.LevelInfo, "request", attrs...)
		}()
		next.ServeHTTP(sw, r.WithContext(ctx))
	})
}
