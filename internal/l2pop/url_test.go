package l2pop

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseTransportURL(t *testing.T) {
	tests := []struct {
		in   string
		want TransportURL
	}{
		{"rabbit://u:p@h1:5672/", TransportURL{Brokers: []Broker{{"u", "p", "h1:5672"}}, VHost: "/"}},
		{"rabbit://u:p@h1:5672,v:q@h2/nova", TransportURL{Brokers: []Broker{{"u", "p", "h1:5672"}, {"v", "q", "h2:5672"}}, VHost: "nova"}},
		{"rabbit://h1", TransportURL{Brokers: []Broker{{"guest", "guest", "h1:5672"}}, VHost: "/"}},
		{"rabbit://u:p%40ss%2Fw@[::1]:5673/%2F", TransportURL{Brokers: []Broker{{"u", "p@ss/w", "[::1]:5673"}}, VHost: "/"}},
		{"rabbit://u:p@h1/v?ssl=1", TransportURL{Brokers: []Broker{{"u", "p", "h1:5671"}}, VHost: "v", TLS: true}},
		{"rabbit://u:p@h1:5672/v?ssl=true", TransportURL{Brokers: []Broker{{"u", "p", "h1:5672"}}, VHost: "v", TLS: true}},
		{"rabbit://u:p@h1:5672/v?ssl=0", TransportURL{Brokers: []Broker{{"u", "p", "h1:5672"}}, VHost: "v"}},
	}
	for _, tc := range tests {
		got, err := ParseTransportURL(tc.in)
		if err != nil {
			t.Errorf("ParseTransportURL(%q) = %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("ParseTransportURL(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

func TestParseTransportURLErrors(t *testing.T) {
	for _, in := range []string{
		"", "amqp://u:p@h1/", "kombu://h", "rabbit://", "rabbit:///v", "rabbit://u:p@h1:0/", "rabbit://u:p@h1:99999/",
		"rabbit://u:p@h1,/", "rabbit://u:p@h1/?ssl=maybe", "rabbit://u:p@h1/?heartbeat=3", "rabbit://u:p%zz@h1/",
	} {
		_, err := ParseTransportURL(in)
		if !errors.Is(err, ErrTransportURL) {
			t.Errorf("ParseTransportURL(%q) = %v; want ErrTransportURL", in, err)
		}
		if err != nil && strings.Contains(err.Error(), ":p") {
			t.Errorf("ParseTransportURL(%q) error %q shows the password", in, err)
		}
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"rabbit://u:secret@h1:5672,v:other@h2:5673/vh?ssl=1", "rabbit://u:xxxxx@h1:5672,v:xxxxx@h2:5673/vh?ssl=1"},
		{"rabbit://guest:guest@127.0.0.1:5672/", "rabbit://guest:xxxxx@127.0.0.1:5672/"},
		{"rabbit://u:secret@h1:0/", "rabbit://<unparsable>"},
		{"secret", "<unparsable>"},
	}
	for _, tc := range tests {
		if got := RedactURL(tc.in); got != tc.want {
			t.Errorf("RedactURL(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}
