// Command takeover measures how fast a standby switch agent takes a switch
// over when the active one dies: a real ovsdb-server, an l2gw server and
// an HA pair of `l2gw switch-agent` processes; in each trial the holder of
// the switch's lease is killed with SIGKILL, a port is created at once,
// and the time until its MAC is on the switch is taken; a fresh standby is
// started for the next trial. It prints every trial and the median.
//
//	go run ./bench/takeover [-trials 9] [-lease-period 3s] [-database postgres://…]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/l2gw/l2gw/bench/internal/vtepwatch"
	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/lease"
	"github.com/l2gw/l2gw/internal/neutron"
	"github.com/l2gw/l2gw/internal/testenv"
)

func main() {
	trials := flag.Int("trials", 9, "kills of the active agent")
	period := flag.Duration("lease-period", 0, "the agents' --lease-period (0: their default)")
	database := flag.String("database", "", "the server's --database (default: SQLite in a temp dir)")
	flag.Parse()
	if err := run(*trials, *period, *database); err != nil {
		fmt.Fprintln(os.Stderr, "takeover:", err)
		os.Exit(1)
	}
}

func run(trials int, period time.Duration, database string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "l2gw-takeover-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin, err := testenv.BuildL2GWInto(dir)
	if err != nil {
		return err
	}
	sw, err := vtepwatch.StartSwitch(ctx, dir, "switch", "gatewayhost", "192.0.2.1", "port1")
	if err != nil {
		return err
	}
	defer sw.Stop()

	args := []string{"--data-dir", filepath.Join(dir, "state")}
	if database != "" {
		args = append(args, "--database", database)
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	srv, err := testenv.RunServer(ctx, bin, hc, testenv.ProcConfig{DropEnv: "L2GW_", ParentDeathSignal: syscall.SIGKILL}, args...)
	if err != nil {
		return err
	}
	defer srv.Stop()
	c, err := client.New(srv.URL)
	if err != nil {
		return err
	}

	n := 0
	agent := func() (*testenv.Proc, error) {
		n++
		a := []string{"switch-agent", "--server", srv.URL, "--switch", sw.Target(), "--agent-name", fmt.Sprintf("agent%d", n)}
		if period > 0 {
			a = append(a, "--lease-period", period.String())
		}
		return testenv.StartProc(testenv.ProcConfig{Name: a[len(a)-1], DropEnv: "L2GW_", ParentDeathSignal: syscall.SIGKILL}, bin, a...)
	}
	holderOf := func() (string, int64, error) {
		sw, err := c.GetSwitch(ctx, "gatewayhost")
		return sw.Agent, sw.Epoch, err
	}
	agents := map[string]*testenv.Proc{}
	defer func() {
		for _, p := range agents {
			_ = p.Stop()
		}
	}()
	for range 2 {
		p, err := agent()
		if err != nil {
			return err
		}
		agents[p.Name] = p
	}
	if err := testenv.Poll(ctx, 30*time.Second, func() error {
		sw, err := c.GetSwitch(ctx, "gatewayhost")
		if err != nil || sw.Agent == "" || len(sw.Ports) == 0 {
			return fmt.Errorf("switch not held and reported: %+v %v", sw, err)
		}
		return nil
	}); err != nil {
		return err
	}
	net, err := c.CreateNetwork(ctx, neutron.NetworkCreate{Name: "net1", SegmentationID: 1000})
	if err != nil {
		return err
	}
	if _, err := c.CreateHost(ctx, neutron.HostCreate{Name: "compute1", VTEPIP: "192.0.2.2"}); err != nil {
		return err
	}
	gw, err := c.CreateGateway(ctx, neutron.GatewayCreate{Name: "gw1", Devices: []neutron.DeviceRequest{{DeviceName: "gatewayhost",
		Interfaces: []neutron.InterfaceRequest{{Name: "port1", SegmentationID: []string{"100"}}}}}})
	if err != nil {
		return err
	}
	if _, err := c.CreateConnection(ctx, neutron.ConnectionCreate{L2GatewayID: gw.ID, NetworkID: net.ID}); err != nil {
		return err
	}

	var took []time.Duration
	for i := range trials {
		name, epoch, err := holderOf()
		if err != nil {
			return err
		}
		p := agents[name]
		if p == nil {
			return fmt.Errorf("holder %q is none of ours", name)
		}
		// The standby must be up and standing by: start the next one
		// first, give it a lease period to hear it is refused.
		next, err := agent()
		if err != nil {
			return err
		}
		agents[next.Name] = next
		if err := testenv.Poll(ctx, 30*time.Second, func() error {
			if !strings.Contains(next.Logs(), "standing by") {
				return errors.New("the new agent does not stand by yet")
			}
			return nil
		}); err != nil {
			return err
		}
		mac := fmt.Sprintf("fa:16:3e:00:01:%02x", i)
		killed := time.Now()
		if err := p.Signal(syscall.SIGKILL); err != nil {
			return err
		}
		_ = p.Wait(10 * time.Second)
		delete(agents, name)
		if _, err := c.CreatePort(ctx, neutron.PortCreate{NetworkID: net.ID, MACAddress: mac, HostID: "compute1"}); err != nil {
			return err
		}
		if err := testenv.Poll(ctx, 60*time.Second, func() error {
			out, _ := exec.CommandContext(ctx, "vtep-ctl", "--db="+sw.Target(), "list-remote-macs", net.ID).Output()
			if !strings.Contains(string(out), mac) {
				return fmt.Errorf("%s not on the switch", mac)
			}
			return nil
		}); err != nil {
			return err
		}
		d := time.Since(killed)
		took = append(took, d)
		newName, newEpoch, _ := holderOf()
		fmt.Printf("trial %d: killed %s (epoch %d); %s (epoch %d) programmed the new port %v after the kill\n",
			i+1, name, epoch, newName, newEpoch, d.Round(time.Millisecond))
	}
	if period == 0 {
		period = lease.DefaultPeriod
	}
	slices.Sort(took)
	fmt.Printf("takeover (kill -9 of the active agent -> a port created after it on the switch), %d trials, lease period %v: median %v, min %v, max %v\n",
		len(took), period, took[len(took)/2].Round(time.Millisecond), took[0].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))
	return nil
}
