package agentapi

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCertAgent(t *testing.T) {
	tests := []struct {
		name   string
		ous    []string
		cn     string
		dns    []string
		want   certIdentity
		wantOK bool
	}{
		{"host by CN", []string{HostAgentOU}, "compute1", nil, certIdentity{hostKind, []string{"compute1"}}, true},
		{"switch by CN and SANs", []string{"ops", SwitchAgentOU}, "tor-agent-1", []string{"tor1", "tor2"},
			certIdentity{switchKind, []string{"tor-agent-1", "tor1", "tor2"}}, true},
		{"SANs only", []string{HostAgentOU}, "", []string{"compute1"}, certIdentity{hostKind, []string{"compute1"}}, true},
		{"both kinds: refused", []string{HostAgentOU, SwitchAgentOU}, "x", nil, certIdentity{}, true},
		{"no agent OU", []string{"l2gw"}, "compute1", nil, certIdentity{}, false},
		{"OU in the CN is no OU", nil, HostAgentOU, nil, certIdentity{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &x509.Certificate{Subject: pkix.Name{OrganizationalUnit: tc.ous, CommonName: tc.cn}, DNSNames: tc.dns}
			got, ok := certAgent(c)
			if ok != tc.wantOK || !cmp.Equal(got, tc.want, cmp.AllowUnexported(certIdentity{})) {
				t.Errorf("certAgent(OU %v CN %q DNS %v) = %+v, %v; want %+v, %v", tc.ous, tc.cn, tc.dns, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}
