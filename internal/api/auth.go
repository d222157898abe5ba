package api

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/l2gw/l2gw/internal/model"
)

// Credentials is who makes a request.
type Credentials struct {
	UserID    string
	ProjectID string
	Roles     []string
	IsAdmin   bool
}

// Authenticator turns a request into credentials; an error answers 401.
// NoAuth is one; the Keystone token validator is another.
type Authenticator interface {
	Authenticate(r *http.Request) (Credentials, error)
}

// NoAuthProject is the project of every noauth caller, as on neutron-server.
const NoAuthProject = "fake_project_id"

// NoAuth authenticates every caller as an admin of project "fake_project_id",
// like neutron-server's auth_strategy = noauth. For tests, the headers
// X-Project-Id (or X-Tenant-Id), X-User-Id and X-Roles (comma-separated) are
// honoured; with X-Roles the caller is admin only if a role is "admin".
type NoAuth struct{}

// Authenticate implements Authenticator.
func (NoAuth) Authenticate(r *http.Request) (Credentials, error) {
	c := Credentials{UserID: r.Header.Get("X-User-Id"), ProjectID: NoAuthProject, IsAdmin: true}
	if p := r.Header.Get("X-Project-Id"); p != "" {
		c.ProjectID = p
	} else if p := r.Header.Get("X-Tenant-Id"); p != "" {
		c.ProjectID = p
	}
	if roles, ok := r.Header["X-Roles"]; ok {
		for _, v := range roles {
			for _, role := range strings.Split(v, ",") {
				if role = strings.TrimSpace(role); role != "" {
					c.Roles = append(c.Roles, role)
				}
			}
		}
		c.IsAdmin = slices.Contains(c.Roles, "admin")
	} else {
		c.Roles = []string{"admin"}
	}
	return c, nil
}

// Rule decides whether credentials may perform an action.
type Rule func(Credentials) bool

// AdminOnly is Neutron's rule:admin_only.
func AdminOnly(c Credentials) bool { return c.IsAdmin }

// Policy holds the rule of each action ("create_l2_gateway",
// "get_l2_gateway", "update_port", ...). Actions without a rule use Default.
type Policy struct {
	Rules   map[string]Rule
	Default Rule
}

// DefaultPolicy is networking-l2gw's: every action is admin-only, and so is
// the inventory l2gw owns.
func DefaultPolicy() *Policy { return &Policy{Default: AdminOnly} }

// Enforce checks action for c. A refused create answers 403
// PolicyNotAuthorized "rule:<action> is disallowed by policy" (neutron's
// policy.enforce); other refusals answer 403 AdminRequired as
// networking-l2gw's _admin_check does (it reads the object first, hence GET).
func (p *Policy) Enforce(c Credentials, action string) error {
	rule := p.Default
	if r, ok := p.Rules[action]; ok {
		rule = r
	}
	if rule == nil || rule(c) {
		return nil
	}
	if strings.HasPrefix(action, "create_") {
		return model.NewFault(model.ErrForbidden, "PolicyNotAuthorized", "rule:%s is disallowed by policy", action)
	}
	return model.NewFault(model.ErrForbidden, "AdminRequired", "User does not have admin privileges: Cannot GET resource for non admin tenant.")
}

type credsKey struct{}

func withCredentials(ctx context.Context, c Credentials) context.Context {
	return context.WithValue(ctx, credsKey{}, c)
}

// CredentialsFrom returns the credentials the API attached to a request's context.
func CredentialsFrom(ctx context.Context) (Credentials, bool) {
	c, ok := ctx.Value(credsKey{}).(Credentials)
	return c, ok
}
