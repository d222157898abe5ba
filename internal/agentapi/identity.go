package agentapi

import (
	"crypto/x509"
	"net/http"
	"slices"

	"github.com/l2gw/l2gw/internal/api"
	"github.com/l2gw/l2gw/internal/model"
)

// Organizational units (OU) of agent certificates: the kind of agent a
// certificate speaks for. A certificate verified against the server's
// client CAs with one of them is an agent credential; its names are its
// common name (CN) and its DNS subject alternative names.
const (
	// HostAgentOU marks a host agent's certificate: it may register,
	// report the status of and read the plan of the hosts it names.
	HostAgentOU = "l2gw-host-agent"
	// SwitchAgentOU marks a switch agent's certificate: it may report,
	// report the status of and read the plan of the switches it names,
	// and those Config.AgentSwitches lists for a name it carries.
	SwitchAgentOU = "l2gw-switch-agent"
)

// DefaultAgentRole is the Keystone role that makes a token an agent's.
const DefaultAgentRole = "service"

// agentKind is what an agent action acts on.
type agentKind int

const (
	hostKind agentKind = iota + 1
	switchKind
)

func (k agentKind) String() string {
	if k == hostKind {
		return "host"
	}
	return "switch"
}

// agentActions are the actions of the agent protocol proper, with the
// kind of object their path names. Other actions of the handler (the
// system and connection status) are the API's reads, under its policy.
var agentActions = map[string]agentKind{
	"report_switch":        switchKind,
	"update_switch_status": switchKind,
	"get_switch_plan":      switchKind,
	"register_host":        hostKind,
	"update_host_status":   hostKind,
	"get_host_plan":        hostKind,
	"acquire_switch_lease": switchKind,
	"release_switch_lease": switchKind,
	"acquire_host_lease":   hostKind,
	"release_host_lease":   hostKind,
}

// certIdentity is who an agent certificate speaks for.
type certIdentity struct {
	kind  agentKind
	names []string // CN and DNS SANs
}

// agentCertificate is r's verified client certificate as an agent
// identity; ok is false without one, or when the certificate is no agent
// credential (no l2gw OU: e.g. an operator's certificate).
func agentCertificate(r *http.Request) (certIdentity, bool) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return certIdentity{}, false
	}
	return certAgent(r.TLS.VerifiedChains[0][0])
}

func certAgent(c *x509.Certificate) (certIdentity, bool) {
	var id certIdentity
	for _, ou := range c.Subject.OrganizationalUnit {
		var k agentKind
		switch ou {
		case HostAgentOU:
			k = hostKind
		case SwitchAgentOU:
			k = switchKind
		default:
			continue
		}
		// A certificate claiming both kinds is refused as neither: one
		// credential per agent keeps a host agent from reporting switches.
		if id.kind != 0 && id.kind != k {
			return certIdentity{}, true
		}
		id.kind = k
	}
	if id.kind == 0 {
		return certIdentity{}, false
	}
	if c.Subject.CommonName != "" {
		id.names = append(id.names, c.Subject.CommonName)
	}
	id.names = append(id.names, c.DNSNames...)
	return id, true
}

// authorizeAgent decides whether r may perform the agent action on the
// host or switch named in its path:
//
//   - a verified agent certificate (HostAgentOU, SwitchAgentOU) acts only
//     for the hosts or switches it names, and never for the other kind;
//   - otherwise the caller authenticates as on the API (no or a bad token:
//     401); a token with Config.AgentRole is the trusted service and acts
//     for every host and switch; under noauth the API's policy decides, as
//     before (a lab: loopback callers are admins); any other caller, an
//     API admin included, gets 403.
func (h *Handler) authorizeAgent(r *http.Request, action string, kind agentKind) error {
	name := r.PathValue("name")
	if id, ok := agentCertificate(r); ok {
		if id.kind == 0 {
			return forbidden("The client certificate claims both %s and %s: an agent certificate is for hosts or for switches.", HostAgentOU, SwitchAgentOU)
		}
		if id.kind != kind {
			return forbidden("A %s agent's certificate cannot act for %s %q.", id.kind, kind, name)
		}
		if !h.serves(id, name) {
			return forbidden("The %s agent certificate for %v does not serve %s %q.", id.kind, id.names, kind, name)
		}
		return nil
	}
	c, err := api.Authorize(r, h.cfg.Authenticator, allowAll, action)
	if err != nil {
		return err
	}
	if slices.Contains(c.Roles, h.cfg.AgentRole) {
		return nil
	}
	if h.noauth() {
		return h.cfg.Policy.Enforce(c, action)
	}
	return forbidden("The agent protocol takes an agent's credential: a client certificate of OU %s or %s, or a token with the role %q.",
		HostAgentOU, SwitchAgentOU, h.cfg.AgentRole)
}

// serves reports whether the certificate id may act for the host or
// switch name.
func (h *Handler) serves(id certIdentity, name string) bool {
	for _, n := range id.names {
		if n == name || (id.kind == switchKind && slices.Contains(h.cfg.AgentSwitches[n], name)) {
			return true
		}
	}
	return false
}

// noauth reports whether callers are authenticated by api.NoAuth.
func (h *Handler) noauth() bool {
	switch h.cfg.Authenticator.(type) {
	case nil, api.NoAuth, *api.NoAuth:
		return true
	}
	return false
}

// allowAll is a policy that lets every authenticated caller through:
// authorizeAgent decides after authentication.
var allowAll = &api.Policy{Default: func(api.Credentials) bool { return true }}

func forbidden(format string, args ...any) error {
	return model.NewFault(model.ErrForbidden, "AgentNotAuthorized", format, args...)
}
