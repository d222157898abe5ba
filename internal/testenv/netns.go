package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// nsCounter makes lab prefixes unique within one test process; the PID makes
// them unique across processes running at the same time.
var nsCounter atomic.Uint32

// NetLab is a set of network namespaces owned by one test. Every namespace
// is named Prefix+role (vtep-lab.md section 5: "l2gw<id>-<role>") and is
// deleted, with every device inside it, at test cleanup.
type NetLab struct {
	// Prefix is "l2gw<id>-", unique to this lab.
	Prefix string
	t      testing.TB
}

// RequireRoot skips the test when not running as root (network namespaces,
// veths and VXLAN devices need CAP_NET_ADMIN), and fails it under CI.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "root (network namespaces)")
	}
}

// NewNetLab returns an empty lab with a fresh prefix. It skips the test when
// not root or when iproute2 is missing (fails under CI).
func NewNetLab(t testing.TB) *NetLab {
	t.Helper()
	RequireRoot(t)
	RequireCommand(t, "ip")
	id := fmt.Sprintf("%x%x", os.Getpid()&0xffff, nsCounter.Add(1))
	return &NetLab{Prefix: "l2gw" + id + "-", t: t}
}

// AddNS creates the namespace Prefix+role with its loopback up, schedules its
// deletion at cleanup and returns its full name.
func (l *NetLab) AddNS(role string) string {
	l.t.Helper()
	name := l.Prefix + role
	l.mustIP("netns", "add", name)
	l.t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			l.t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	l.mustIP("-n", name, "link", "set", "lo", "up")
	return name
}

// Veth creates a veth pair with end name1 in namespace ns1 and end name2 in
// ns2, both up. Deleting either namespace removes the pair.
func (l *NetLab) Veth(ns1, name1, ns2, name2 string) {
	l.t.Helper()
	l.mustIP("link", "add", name1, "netns", ns1, "type", "veth", "peer", "name", name2, "netns", ns2)
	l.mustIP("-n", ns1, "link", "set", name1, "up")
	l.mustIP("-n", ns2, "link", "set", name2, "up")
}

// Addr assigns the address cidr (e.g. "192.0.2.1/24") to dev in ns.
func (l *NetLab) Addr(ns, dev, cidr string) {
	l.t.Helper()
	l.mustIP("-n", ns, "addr", "add", cidr, "dev", dev)
}

// IP runs `ip -n ns args...` and fails the test on error. It returns the
// trimmed output.
func (l *NetLab) IP(ns string, args ...string) string {
	l.t.Helper()
	return l.mustIP(append([]string{"-n", ns}, args...)...)
}

// Exec runs a command inside ns (`ip netns exec ns name args...`) and returns
// its combined output and error, without failing the test: callers poll
// commands such as ping that are expected to fail for a while.
func (l *NetLab) Exec(ns, name string, args ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...).CombinedOutput()
	return string(out), err
}

// Handle opens a netlink handle inside ns, closed at cleanup.
func (l *NetLab) Handle(ns string) *netlink.Handle {
	l.t.Helper()
	h, err := NetlinkHandle(ns)
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(h.Close)
	return h
}

// NetlinkHandle opens a netlink handle inside the named namespace.
func NetlinkHandle(ns string) (*netlink.Handle, error) {
	nsh, err := netns.GetFromName(ns)
	if err != nil {
		return nil, fmt.Errorf("open netns %s: %w", ns, err)
	}
	defer nsh.Close()
	h, err := netlink.NewHandleAt(nsh)
	if err != nil {
		return nil, fmt.Errorf("netlink handle in %s: %w", ns, err)
	}
	return h, nil
}

// InNS runs fn on an OS thread switched into the named namespace and
// switches the thread back afterwards. fn must not start goroutines that
// expect to inherit the namespace.
func InNS(ns string, fn func() error) error {
	target, err := netns.GetFromName(ns)
	if err != nil {
		return fmt.Errorf("open netns %s: %w", ns, err)
	}
	defer target.Close()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return fmt.Errorf("current netns: %w", err)
	}
	defer orig.Close()
	if err := netns.Set(target); err != nil {
		return fmt.Errorf("enter netns %s: %w", ns, err)
	}
	defer func() {
		if err := netns.Set(orig); err != nil {
			// The thread is stuck in the wrong namespace; do not let the
			// runtime reuse it (it exits once unlocked without being
			// unlocked again).
			runtime.LockOSThread()
		}
	}()
	return fn()
}

func (l *NetLab) mustIP(args ...string) string {
	l.t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		l.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}
