package store

import (
	"net/url"
	"regexp"
	"strings"
)

// redacted replaces a secret in a redacted database address.
const redacted = "xxxxx"

// secretKeys are the connection parameters whose values Redact hides, in
// URL queries and key/value strings alike.
var secretKeys = map[string]bool{"password": true, "sslpassword": true}

// keyValueDSN matches the start of a libpq key/value connection string,
// "host=… user=…".
var keyValueDSN = regexp.MustCompile(`^\s*[A-Za-z_]+\s*=`)

// isKeyValue reports whether dsn is a libpq key/value connection string.
func isKeyValue(dsn string) bool { return keyValueDSN.MatchString(dsn) }

// Redact returns dsn fit for logs, error answers and status views: every
// password in it, in any form the store accepts, is replaced by "xxxxx":
// the password of a URL's user info, password= and sslpassword= query
// parameters, and the same keys of a libpq key/value string. An address
// that cannot be parsed is reduced to what is surely not secret.
func Redact(dsn string) string {
	switch {
	case strings.Contains(dsn, "://"):
		return redactURL(dsn)
	case isKeyValue(dsn):
		return redactKeyValue(dsn)
	}
	if path, query, ok := strings.Cut(dsn, "?"); ok {
		// A file path with parameters, which Open refuses.
		return path + "?" + redactQuery(query)
	}
	return dsn
}

// redactQuery is the URL query q with its secret parameters hidden.
func redactQuery(q string) string {
	v, err := url.ParseQuery(q)
	if err != nil {
		return "<unparsable>"
	}
	for k := range v {
		if secretKeys[strings.ToLower(k)] {
			v[k] = []string{redacted}
		}
	}
	return v.Encode()
}

func redactURL(dsn string) string {
	scheme, _, _ := strings.Cut(dsn, "://")
	u, err := url.Parse(dsn)
	if err != nil {
		return scheme + "://<unparsable>"
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), redacted)
		}
	}
	if u.RawQuery != "" {
		u.RawQuery = redactQuery(u.RawQuery)
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}

// redactKeyValue rewrites a libpq key/value string: key = value pairs
// separated by spaces, a value either bare or single-quoted with
// backslash escapes.
func redactKeyValue(dsn string) string {
	var out []string
	s := dsn
	for {
		s = strings.TrimLeft(s, " \t\n\r\f\v")
		if s == "" {
			return strings.Join(out, " ")
		}
		key, rest, ok := strings.Cut(s, "=")
		if !ok {
			return strings.Join(append(out, "<unparsable>"), " ")
		}
		key = strings.TrimSpace(key)
		rest = strings.TrimLeft(rest, " \t\n\r\f\v")
		var val string
		if strings.HasPrefix(rest, "'") {
			end := -1
			for i := 1; i < len(rest); i++ {
				if rest[i] == '\\' {
					i++
					continue
				}
				if rest[i] == '\'' {
					end = i
					break
				}
			}
			if end < 0 {
				return strings.Join(append(out, "<unparsable>"), " ")
			}
			val, s = rest[:end+1], rest[end+1:]
		} else {
			i := strings.IndexAny(rest, " \t\n\r\f\v")
			if i < 0 {
				i = len(rest)
			}
			val, s = rest[:i], rest[i:]
		}
		if secretKeys[strings.ToLower(key)] {
			val = redacted
		}
		out = append(out, key+"="+val)
	}
}
