package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/l2gw/l2gw/internal/hostagent"
	"github.com/l2gw/l2gw/internal/model"
	"github.com/l2gw/l2gw/internal/planner"
	"github.com/l2gw/l2gw/internal/planstream"
	"github.com/l2gw/l2gw/internal/testenv"
)

type okRegistrar struct{}

func (okRegistrar) RegisterHost(_ context.Context, name, vtepIP string, at time.Time) (model.Host, error) {
	return model.Host{Name: name, VTEPIP: vtepIP, LastHeartbeat: at}, nil
}

func (okRegistrar) SetHostStatus(context.Context, model.HostStatus) error { return nil }

func TestHostAgentCmdValidates(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no server", []string{"--host", "h", "--vtep-ip", "192.0.2.2"}, "--server"},
		{"no vtep ip", []string{"--server", "http://x", "--host", "h"}, "vtep ip"},
		{"ipv6 vtep ip", []string{"--server", "http://x", "--host", "h", "--vtep-ip", "2001:db8::2"}, "vtep ip"},
		{"bad log level", []string{"--server", "http://x", "--vtep-ip", "192.0.2.2", "--log-level", "loud"}, "--log-level"},
		{"arguments", []string{"--server", "http://x", "--vtep-ip", "192.0.2.2", "extra"}, "unknown command"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			connected := false
			cmd := newHostAgentCmdWith(func(string) (planstream.HostSource, hostagent.Registrar, error) {
				connected = true
				return nil, nil, errors.New("unexpected connect")
			})
			cmd.SetArgs(tc.args)
			cmd.SilenceUsage, cmd.SilenceErrors = true, true
			err := cmd.ExecuteContext(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("host-agent %v = %v; want an error mentioning %q", tc.args, err, tc.want)
			}
			if connected {
				t.Errorf("host-agent %v connected to the server before validating flags", tc.args)
			}
		})
	}
}

// TestHostAgentCmdCleanup runs the command in a namespace until its plan is
// realised, then stops it: with --cleanup nothing of ours is left.
func TestHostAgentCmdCleanup(t *testing.T) {
	lab := testenv.NewNetLab(t)
	ns := lab.AddNS("compute")
	plan := planner.HostPlan{Host: "compute1", Networks: map[string]planner.HostNetwork{
		"net-1": {NetworkID: "net-1", VNI: 1000, FloodIPs: []string{"192.0.2.1"}},
	}}
	cmd := newHostAgentCmdWith(func(string) (planstream.HostSource, hostagent.Registrar, error) {
		plans := planstream.NewMemory(planstream.Host)
		plans.Set(plan.Host, 1, plan)
		return plans, okRegistrar{}, nil
	})
	cmd.SetArgs([]string{"--server", "http://127.0.0.1:1", "--host", "compute1", "--vtep-ip", "192.0.2.2",
		"--netns", ns, "--cleanup", "--log-level", "error"})
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()

	h := lab.Handle(ns)
	err := testenv.Poll(ctx, 10*time.Second, func() error {
		select {
		case err := <-done:
			done <- err
			return testenv.StopPolling(fmt.Errorf("host-agent returned early: %v", err))
		default:
		}
		_, err := h.LinkByName(hostagent.VXLANName(1000))
		return err
	})
	if err != nil {
		cancel()
		<-done
		t.Fatalf("%s not created: %v", hostagent.VXLANName(1000), err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("host-agent = %v; want nil", err)
	}
	for _, name := range []string{hostagent.VXLANName(1000), hostagent.BridgeName(1000)} {
		if _, err := h.LinkByName(name); err == nil {
			t.Errorf("%s still exists after host-agent --cleanup exited", name)
		}
	}
}
