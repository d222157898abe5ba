package l2pop

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Broker is one host of a transport URL.
type Broker struct {
	User, Password string
	Host           string // host:port
}

// TransportURL is a parsed oslo.messaging transport URL:
// rabbit://USER:PASS@HOST:PORT[,USER:PASS@HOST:PORT...]/VHOST[?ssl=1].
type TransportURL struct {
	// Brokers are tried in turn, as oslo.messaging does.
	Brokers []Broker
	// VHost is the virtual host; "/" when the URL's path is empty.
	VHost string
	// TLS is set by ?ssl=1 (or true/yes): AMQP over TLS (amqps).
	TLS bool
}

// ErrTransportURL reports a transport URL l2pop cannot use.
var ErrTransportURL = errors.New("invalid transport URL")

// ParseTransportURL parses oslo.messaging's rabbit transport URL. Each host
// carries its own user and password (percent-encoded where they hold
// reserved characters); a host without a port uses 5672 (5671 with TLS),
// one without credentials guest/guest.
func ParseTransportURL(s string) (TransportURL, error) {
	var t TransportURL
	rest, ok := strings.CutPrefix(s, "rabbit://")
	if !ok {
		return t, fmt.Errorf("%w: want rabbit://USER:PASS@HOST:PORT/VHOST", ErrTransportURL)
	}
	rest, query, _ := strings.Cut(rest, "?")
	if query != "" {
		q, err := url.ParseQuery(query)
		if err != nil {
			return t, fmt.Errorf("%w: query: %v", ErrTransportURL, err)
		}
		for k, v := range q {
			switch k {
			case "ssl":
				b, err := strconv.ParseBool(strings.Replace(strings.ToLower(v[0]), "yes", "true", 1))
				if err != nil {
					return t, fmt.Errorf("%w: ssl=%q: want 1, true, 0 or false", ErrTransportURL, v[0])
				}
				t.TLS = b
			default:
				return t, fmt.Errorf("%w: unknown parameter %q (only ssl is understood)", ErrTransportURL, k)
			}
		}
	}
	netloc, path, _ := strings.Cut(rest, "/")
	vhost, err := url.PathUnescape(path)
	if err != nil {
		return t, fmt.Errorf("%w: virtual host: %v", ErrTransportURL, err)
	}
	t.VHost = vhost
	if t.VHost == "" {
		t.VHost = "/"
	}
	if netloc == "" {
		return t, fmt.Errorf("%w: no host", ErrTransportURL)
	}
	defPort := "5672"
	if t.TLS {
		defPort = "5671"
	}
	for _, h := range strings.Split(netloc, ",") {
		b := Broker{User: "guest", Password: "guest"}
		if cred, host, ok := strings.Cut(h, "@"); ok {
			u, p, _ := strings.Cut(cred, ":")
			if b.User, err = url.PathUnescape(u); err != nil {
				return t, fmt.Errorf("%w: user: %v", ErrTransportURL, err)
			}
			if b.Password, err = url.PathUnescape(p); err != nil {
				return t, fmt.Errorf("%w: password of %s cannot be decoded", ErrTransportURL, host)
			}
			h = host
		}
		if h == "" {
			return t, fmt.Errorf("%w: empty host", ErrTransportURL)
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(strings.Trim(h, "[]"), defPort)
		}
		host, port, err := net.SplitHostPort(h)
		if err != nil || host == "" {
			return t, fmt.Errorf("%w: host %q", ErrTransportURL, h)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return t, fmt.Errorf("%w: port %q", ErrTransportURL, port)
		}
		b.Host = h
		t.Brokers = append(t.Brokers, b)
	}
	return t, nil
}

// String returns the URL with every password hidden, fit for logs and
// status.
func (t TransportURL) String() string {
	var hosts []string
	for _, b := range t.Brokers {
		hosts = append(hosts, url.PathEscape(b.User)+":xxxxx@"+b.Host)
	}
	vh := t.VHost
	if vh == "/" {
		vh = ""
	}
	s := "rabbit://" + strings.Join(hosts, ",") + "/" + url.PathEscape(vh)
	if t.TLS {
		s += "?ssl=1"
	}
	return s
}

// RedactURL returns s with its passwords hidden; an unparsable URL is
// reduced to its scheme.
func RedactURL(s string) string {
	t, err := ParseTransportURL(s)
	if err != nil {
		scheme, _, ok := strings.Cut(s, "://")
		if !ok {
			return "<unparsable>"
		}
		return scheme + "://<unparsable>"
	}
	return t.String()
}
