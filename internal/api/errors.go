package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/store"
)

// Error kinds the API itself raises besides model's; each maps to a status
// in statusOf.
var (
	errUnauthorized     = errors.New("unauthorized")       // 401
	errMethodNotAllowed = errors.New("method not allowed") // 405
	errUnavailable      = errors.New("unavailable")        // 503
)

const internalErrorMessage = "Request Failed: internal server error while processing your request."

// badRequest is Neutron's webob HTTPBadRequest.
func badRequest(format string, args ...any) error {
	return model.NewFault(model.ErrInvalid, "HTTPBadRequest", format, args...)
}

// invalidInput is neutron_lib's InvalidInput.
func invalidInput(format string, args ...any) error {
	return model.NewFault(model.ErrInvalid, "InvalidInput", "Invalid input for operation: "+format+".", args...)
}

// invalidAttr is convert_values' message for a failed validator.
func invalidAttr(attr, reason string) error {
	return badRequest("Invalid input for %s. Reason: %s.", attr, reason)
}

func notFound(typ, format string, args ...any) error {
	return model.NewFault(model.ErrNotFound, typ, format, args...)
}

// DatabaseUnavailableMessage is the NeutronError message of a 503 answered
// because the database cannot be reached or did not answer in time.
const DatabaseUnavailableMessage = "The database is unavailable (unreachable or not answering); try again later."

// statusOf maps an error kind to its HTTP status: the one place where store
// and validation failures become status codes.
func statusOf(err error) int {
	switch {
	case errors.Is(err, model.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, errUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, model.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, model.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, errMethodNotAllowed):
		return http.StatusMethodNotAllowed
	case errors.Is(err, model.ErrConflict), errors.Is(err, model.ErrInUse):
		return http.StatusConflict
	case errors.Is(err, model.ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, model.ErrPrecondition):
		return http.StatusPreconditionFailed
	case errors.Is(err, errUnavailable), store.IsUnavailable(err):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// genericType names the NeutronError type of a kind when the error is not a
// *model.Fault carrying its own.
func genericType(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "HTTPBadRequest"
	case http.StatusUnauthorized:
		return "HTTPUnauthorized"
	case http.StatusForbidden:
		return "HTTPForbidden"
	case http.StatusNotFound:
		return "HTTPNotFound"
	case http.StatusMethodNotAllowed:
		return "HTTPMethodNotAllowed"
	case http.StatusConflict:
		return "HTTPConflict"
	case http.StatusRequestEntityTooLarge:
		return "HTTPRequestEntityTooLarge"
	case http.StatusPreconditionFailed:
		return "HTTPPreconditionFailed"
	case http.StatusServiceUnavailable:
		return "HTTPServiceUnavailable"
	}
	return "HTTPInternalServerError"
}

// writeError answers err as a NeutronError. Errors of no known kind are
// logged (once, here) and answered as a 500 without their text.
func (h *handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	if ae := (*authError)(nil); errors.As(err, &ae) && ae.challenge != "" {
		w.Header().Set("WWW-Authenticate", ae.challenge)
	}
	body := neutron.Error{Type: genericType(status), Message: err.Error()}
	if status == http.StatusServiceUnavailable && !errors.Is(err, errUnavailable) {
		// The cause names hosts and sockets: logged, not shown.
		h.log.WarnContext(r.Context(), "database unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
		body.Message = DatabaseUnavailableMessage
	}
	var f *model.Fault
	if errors.As(err, &f) && f.Type != "" {
		body.Type = f.Type
		body.Message = f.Message
	}
	if status == http.StatusInternalServerError {
		if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
			h.log.DebugContext(r.Context(), "request cancelled by the client", "method", r.Method, "path", r.URL.Path)
		} else {
			h.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		}
		body = neutron.Error{Type: "HTTPInternalServerError", Message: internalErrorMessage}
	}
	writeErrorBody(w, status, body)
}

func writeErrorBody(w http.ResponseWriter, status int, e neutron.Error) {
	b, err := json.Marshal(neutron.ErrorBody{NeutronError: e})
	if err != nil {
		// Only strings inside; cannot happen.
		panic(fmt.Sprintf("marshal error body: %v", err))
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// logAttrs is the slog group of a request, for Debug logs.
func logAttrs(r *http.Request) slog.Attr {
	return slog.Group("request", "method", r.Method, "path", r.URL.Path)
}
