package main

import (
	"fmt"
)

// workload places the inventory: which host, network and switch each
// port, network and connection has. Everything is a function of indexes,
// so the bench knows what every switch and host must end up with without
// asking the server.
type workload struct{ o options }

func switchName(s int) string { return fmt.Sprintf("sw-%05d", s) }
func switchIP(s int) string   { return fmt.Sprintf("10.250.%d.%d", s>>8, s&0xff) }
func hostName(h int) string   { return fmt.Sprintf("host-%05d", h) }
func hostIP(h int) string     { return fmt.Sprintf("10.200.%d.%d", h>>8, h&0xff) }
func networkName(n int) string {
	return fmt.Sprintf("net-%05d", n)
}
func macN(i int) string { return fmt.Sprintf("fa:16:3e:%02x:%02x:%02x", i>>16, (i>>8)&0xff, i&0xff) }
func ipN(i int) string  { return fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&0xff, i&0xff) }

// switchPort is the one port of every switch; each connected network gets
// one VLAN on it.
const switchPort = "p1"

// vniBase is the VNI of network 0.
const vniBase = 10000

// portsPerNetwork is how many ports each network has.
func (w workload) portsPerNetwork() int { return w.o.ports / w.o.networks }

// networkOf is port i's network.
func (w workload) networkOf(i int) int { return i % w.o.networks }

// networkHosts are the hosts of network n: hostsPerNetwork consecutive
// hosts starting at a stride that spreads networks evenly over hosts.
func (w workload) networkHosts(n int) []int {
	out := make([]int, w.o.hostsPerNetwork)
	for j := range out {
		out[j] = (n*w.o.hostsPerNetwork + j) % w.o.hosts
	}
	return out
}

// hostOf is port i's host: the ports of a network go round its hosts.
func (w workload) hostOf(i int) int {
	hs := w.networkHosts(w.networkOf(i))
	return hs[(i/w.o.networks)%len(hs)]
}

// switchOf is the switch network n is connected to, and vlanOf its VLAN
// there.
func (w workload) switchOf(n int) int { return n % w.o.switches }
func (w workload) vlanOf(n int) int   { return 100 + n/w.o.switches }

// switchNetworks is how many networks each switch carries.
func (w workload) switchNetworks() int { return w.o.networks / w.o.switches }

// hostNetworks counts, per host, the networks it has ports on: what its
// whole plan holds.
func (w workload) hostNetworks() []int {
	nets := make([]map[int]bool, w.o.hosts)
	for i := range w.o.ports {
		h, n := w.hostOf(i), w.networkOf(i)
		if nets[h] == nil {
			nets[h] = map[int]bool{}
		}
		nets[h][n] = true
	}
	out := make([]int, w.o.hosts)
	for h, m := range nets {
		out[h] = len(m)
	}
	return out
}
