package api

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/l2gw/l2gw/internal/neutron"
)

// Authorize authenticates r with auth (nil means NoAuth) and enforces
// action with p (nil means DefaultPolicy), for handlers outside this
// package (the agent protocol, internal/agentapi) that share the API's
// authentication and policy. Its errors are answered by WriteError: 401
// when authentication fails, 403 when the policy refuses.
func Authorize(r *http.Request, auth Authenticator, p *Policy, action string) (Credentials, error) {
	if auth == nil {
		auth = NoAuth{}
	}
	if p == nil {
		p = DefaultPolicy()
	}
	c, err := auth.Authenticate(r)
	if err != nil {
		return Credentials{}, authFailure(auth, err)
	}
	if err := p.Enforce(c, action); err != nil {
		return Credentials{}, err
	}
	return c, nil
}

// WriteError answers err as a NeutronError with the status its kind maps
// to, as every API handler does; errors of no known kind are logged on log
// (nil discards) and answered 500 without their text.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	(&handler{log: log}).writeError(w, r, err)
}

// WriteErrorBody answers e as a NeutronError body with status, for errors
// that are no error value: a route's 404 and 405, a server that does not
// serve a resource (503).
func WriteErrorBody(w http.ResponseWriter, status int, e neutron.Error) {
	writeErrorBody(w, status, e)
}

// NotFound answers Neutron's 404, for paths no route serves.
func NotFound(w http.ResponseWriter, _ *http.Request) {
	writeErrorBody(w, http.StatusNotFound, neutron.Error{Type: "HTTPNotFound", Message: "The resource could not be found."})
}

// MethodNotAllowed returns the handler of a path's other methods: a 405
// NeutronError whose Allow header lists allowed (HEAD with GET, as
// http.ServeMux serves it), sorted.
func MethodNotAllowed(allowed ...string) http.HandlerFunc {
	allow := make([]string, 0, len(allowed)+1)
	for _, m := range allowed {
		allow = append(allow, m)
		if m == http.MethodGet {
			allow = append(allow, http.MethodHead)
		}
	}
	slices.Sort(allow)
	header := strings.Join(allow, ", ")
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", header)
		writeErrorBody(w, http.StatusMethodNotAllowed, neutron.Error{
			Type: "HTTPMethodNotAllowed", Message: fmt.Sprintf("The method %s is not allowed for this resource.", r.Method),
		})
	}
}
