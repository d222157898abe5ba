package store

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	const secret = "s3cr3t"
	tests := []struct {
		name, dsn, want string
	}{
		{"sqlite url", "sqlite:///var/lib/l2gw/l2gw.db", "sqlite:///var/lib/l2gw/l2gw.db"},
		{"sqlite path", "/var/lib/l2gw/l2gw.db", "/var/lib/l2gw/l2gw.db"},
		{"postgres no password", "postgres://l2gw@db:5432/l2gw", "postgres://l2gw@db:5432/l2gw"},
		{"userinfo", "postgres://l2gw:" + secret + "@db:5432/l2gw", "postgres://l2gw:xxxxx@db:5432/l2gw"},
		{"postgresql userinfo", "postgresql://l2gw:" + secret + "@db/l2gw?sslmode=require", "postgresql://l2gw:xxxxx@db/l2gw?sslmode=require"},
		{"escaped userinfo", "postgres://l2gw:" + secret + "%40x@db/l2gw", "postgres://l2gw:xxxxx@db/l2gw"},
		{"query password", "postgres://l2gw@db/l2gw?password=" + secret + "&sslmode=disable", "postgres://l2gw@db/l2gw?password=xxxxx&sslmode=disable"},
		{"query sslpassword", "postgres://db/l2gw?sslpassword=" + secret, "postgres://db/l2gw?sslpassword=xxxxx"},
		{"query upper case", "postgres://db/l2gw?PASSWORD=" + secret, "postgres://db/l2gw?PASSWORD=xxxxx"},
		{"both", "postgres://u:" + secret + "@db/l2gw?password=" + secret, "postgres://u:xxxxx@db/l2gw?password=xxxxx"},
		{"fragment dropped", "postgres://db/l2gw#" + secret, "postgres://db/l2gw"},
		{"unparsable url", "postgres://u:" + secret + "@db:port/l2gw", "postgres://<unparsable>"},
		{"unparsable query", "postgres://db/l2gw?password=" + secret + "%zz", "postgres://db/l2gw?<unparsable>"},
		{"sqlite path query", "/tmp/x.db?password=" + secret, "/tmp/x.db?password=xxxxx"},
		{"sqlite url query", "sqlite:///tmp/x.db?_pragma=x&password=" + secret, "sqlite:///tmp/x.db?_pragma=x&password=xxxxx"},
		{"key/value", "host=db user=l2gw password=" + secret + " dbname=l2gw", "host=db user=l2gw password=xxxxx dbname=l2gw"},
		{"key/value spaces", "host = db password = " + secret, "host=db password=xxxxx"},
		{"key/value quoted", "host=db password='" + secret + " \\' x' dbname=l2gw", "host=db password=xxxxx dbname=l2gw"},
		{"key/value sslpassword", "host=db sslpassword=" + secret, "host=db sslpassword=xxxxx"},
		{"key/value unterminated quote", "host=db password='" + secret, "host=db <unparsable>"},
		{"key/value no equals", "host=db " + secret, "host=db <unparsable>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Redact(tt.dsn)
			if got != tt.want {
				t.Errorf("Redact(%q) = %q; want %q", tt.dsn, got, tt.want)
			}
			if strings.Contains(got, secret) {
				t.Errorf("Redact(%q) = %q shows the password", tt.dsn, got)
			}
		})
	}
}
