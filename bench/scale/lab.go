package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/l2gw/l2gw/bench/internal/vtepwatch"
	"github.com/l2gw/l2gw/internal/agentlink"
	"github.com/l2gw/l2gw/internal/client"
	"github.com/l2gw/l2gw/internal/testenv"
)

// lab is the processes of a run: the switches (ovsdb-servers, kept for
// the whole run), and the servers and switch agents, which the cold start
// stops and starts again.
type lab struct {
	o        options
	w        workload
	bin, tmp string
	dsn      string
	hc       *http.Client

	switches []*vtepwatch.Server
	views    []*vtepwatch.View
	monitors []*vtepwatch.Conn

	servers    []*testenv.Server
	serverArgs []string // more flags for the replicas started next
	pprofAddrs []string // with -profile: each replica's --pprof-addr
	agents     []*testenv.Proc
	apis       []*client.Client
	links      []*agentlink.Link
}

// forEach runs fn for 0..n-1 on up to 8 goroutines and returns the first
// error.
func forEach(n int, fn func(i int) error) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		ferr error
		sem  = make(chan struct{}, 8)
	)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(i); err != nil {
				mu.Lock()
				if ferr == nil {
					ferr = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return ferr
}

// startSwitches creates every switch: an ovsdb-server with the
// Physical_Switch, its tunnel IP and port p1.
func (l *lab) startSwitches(ctx context.Context) error {
	l.switches = make([]*vtepwatch.Server, l.o.switches)
	return forEach(l.o.switches, func(s int) error {
		sw, err := vtepwatch.Start(ctx, l.tmp, switchName(s))
		if err != nil {
			return err
		}
		l.switches[s] = sw
		return sw.AddSwitch(ctx, switchName(s), switchIP(s), []string{switchPort})
	})
}

// wipeSwitches empties every switch database, as a switch that lost its
// state, and creates the switch again.
func (l *lab) wipeSwitches(ctx context.Context) error {
	l.closeMonitors()
	return forEach(l.o.switches, func(s int) error {
		if err := l.switches[s].RestartEmpty(ctx); err != nil {
			return err
		}
		return l.switches[s].AddSwitch(ctx, switchName(s), switchIP(s), []string{switchPort})
	})
}

// watchSwitches opens a monitor on every switch.
func (l *lab) watchSwitches(ctx context.Context) error {
	l.views = make([]*vtepwatch.View, l.o.switches)
	l.monitors = make([]*vtepwatch.Conn, l.o.switches)
	return forEach(l.o.switches, func(s int) error {
		v, c, err := vtepwatch.Watch(ctx, l.switches[s].Target())
		if err != nil {
			return fmt.Errorf("monitor %s: %w", switchName(s), err)
		}
		l.views[s], l.monitors[s] = v, c
		return nil
	})
}

func (l *lab) closeMonitors() {
	for _, c := range l.monitors {
		if c != nil {
			c.Close()
		}
	}
	l.monitors, l.views = nil, nil
}

// startServers starts the replicas on the database, one after the other
// (the first migrates it).
func (l *lab) startServers(ctx context.Context) error {
	l.servers, l.apis, l.links, l.pprofAddrs = nil, nil, nil, nil
	for r := range l.o.replicas {
		args := append([]string{"--database", l.dsn, "--data-dir", filepath.Join(l.tmp, fmt.Sprintf("state-%d", r)), "--log-level", l.o.serverLogLevel}, l.serverArgs...)
		if l.o.profile != "" {
			addr, err := freeLoopbackAddr()
			if err != nil {
				return err
			}
			args = append(args, "--pprof-addr", addr)
			l.pprofAddrs = append(l.pprofAddrs, addr)
		}
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		s, err := testenv.RunServer(wctx, l.bin, l.hc, testenv.ProcConfig{
			Name:              fmt.Sprintf("server-%d", r),
			Log:               filepath.Join(l.tmp, fmt.Sprintf("server-%d.log", r)),
			DropEnv:           "L2GW_",
			ParentDeathSignal: syscall.SIGKILL,
		}, args...)
		cancel()
		if err != nil {
			return err
		}
		api, err := client.New(s.URL, client.WithHTTPClient(l.hc))
		if err != nil {
			return err
		}
		l.servers = append(l.servers, s)
		l.apis = append(l.apis, api)
		l.links = append(l.links, agentlink.New(api, agentlink.Config{}))
	}
	return nil
}

// startAgents starts the switch agents, switchesPerAgent switches each,
// agent g on replica g%replicas.
func (l *lab) startAgents() error {
	l.agents = nil
	for g := 0; g*l.o.switchesPerAgent < l.o.switches; g++ {
		args := []string{"switch-agent", "--server", l.servers[g%len(l.servers)].URL, "--log-level", l.o.agentLogLevel}
		for s := g * l.o.switchesPerAgent; s < min((g+1)*l.o.switchesPerAgent, l.o.switches); s++ {
			args = append(args, "--switch", l.switches[s].Target())
		}
		p, err := testenv.StartProc(testenv.ProcConfig{
			Name:              fmt.Sprintf("switch-agent-%d", g),
			Log:               filepath.Join(l.tmp, fmt.Sprintf("switch-agent-%d.log", g)),
			DropEnv:           "L2GW_",
			ParentDeathSignal: syscall.SIGKILL,
		}, l.bin, args...)
		if err != nil {
			return err
		}
		l.agents = append(l.agents, p)
	}
	return nil
}

// stopProcesses stops the switch agents and then the servers.
func (l *lab) stopProcesses() {
	for _, p := range l.agents {
		_ = p.Stop()
	}
	for _, s := range l.servers {
		_ = s.Stop()
	}
	l.agents, l.servers = nil, nil
}

func (l *lab) close() {
	l.closeMonitors()
	l.stopProcesses()
	for _, sw := range l.switches {
		if sw != nil {
			sw.Stop()
		}
	}
}

// switchesProgrammed waits until every switch holds its whole plan: its
// networks' logical switches, bindings, flooding rows and every MAC.
func (l *lab) switchesProgrammed(ctx context.Context) (time.Time, error) {
	nets := l.w.switchNetworks()
	cond := vtepwatch.Programmed(nets, nets*l.w.portsPerNetwork(), nets)
	var last time.Time
	var mu sync.Mutex
	err := forEach(l.o.switches, func(s int) error {
		at, err := l.views[s].Wait(ctx, cond)
		if err != nil {
			return fmt.Errorf("%s: %w", switchName(s), err)
		}
		mu.Lock()
		if at.After(last) {
			last = at
		}
		mu.Unlock()
		return nil
	})
	return last, err
}
