package api

import (
	"log/slog"
	"net/http"

	"github.com/l2gw/l2gw/internal/model"
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
		return Credentials{}, model.NewFault(errUnauthorized, "HTTPUnauthorized", "Authentication required")
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
