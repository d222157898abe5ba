package testenv

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

func TestStartRabbitMQ(t *testing.T) {
	r := StartRabbitMQ(t)
	dial := func() error {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", r.Port), time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	}
	r.Stop(t)
	if dial() == nil {
		t.Fatalf("port %d still accepts after Stop", r.Port)
	}
	r.Start(t)
	if err := dial(); err != nil {
		t.Fatalf("after restart: %v", err)
	}
}

func TestRabbitMQCtl(t *testing.T) {
	r := StartRabbitMQ(t)
	r.Ctl(t, "add_user", "u1", "p1")
	if out := r.Ctl(t, "list_users"); !strings.Contains(out, "u1") {
		t.Errorf("rabbitmqctl list_users = %q; want u1", out)
	}
}
