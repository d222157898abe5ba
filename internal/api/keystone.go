package api

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/l2gw/l2gw/internal/keystone"
	"github.com/l2gw/l2gw/internal/model"
)

// Keystone authenticates callers by their X-Auth-Token, validated by V (as
// keystonemiddleware's auth_token does for neutron-server). A caller is
// admin when the token carries AdminRole ("admin" when empty);
// is_admin_project alone grants nothing.
type Keystone struct {
	V         *keystone.Validator
	AdminRole string
}

// Authenticate implements Authenticator. Its errors wrap
// keystone.ErrInvalidToken (401) or keystone.ErrUnavailable (503).
func (k Keystone) Authenticate(r *http.Request) (Credentials, error) {
	t, err := k.V.Validate(r.Context(), r.Header.Get("X-Auth-Token"))
	if err != nil {
		return Credentials{}, err
	}
	admin := k.AdminRole
	if admin == "" {
		admin = "admin"
	}
	return Credentials{UserID: t.UserID, ProjectID: t.ProjectID, Roles: t.Roles, IsAdmin: slices.Contains(t.Roles, admin)}, nil
}

// Challenge is the WWW-Authenticate header of a 401, as keystonemiddleware
// sends it.
func (k Keystone) Challenge() string {
	return fmt.Sprintf("Keystone uri=%q", k.V.URL())
}

// challenger is an Authenticator that names where to get a token.
type challenger interface{ Challenge() string }

// authError is a failed authentication: the fault answered and the
// WWW-Authenticate header to send with a 401.
type authError struct {
	error
	challenge string
}

func (e *authError) Unwrap() error { return e.error }

// authFailure turns an Authenticate error into the error answered: 503
// when the identity service could not be asked, else 401 with the
// authenticator's WWW-Authenticate challenge.
func authFailure(auth Authenticator, err error) error {
	if errors.Is(err, keystone.ErrUnavailable) {
		return model.NewFault(errUnavailable, "HTTPServiceUnavailable", "The identity service (Keystone) is unavailable; try again later.")
	}
	e := &authError{error: model.NewFault(errUnauthorized, "HTTPUnauthorized", "Authentication required")}
	if c, ok := auth.(challenger); ok {
		e.challenge = c.Challenge()
	}
	return e
}
