package testenv

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
)

func TestNetLab(t *testing.T) {
	var nsA, nsB string
	t.Run("lab", func(t *testing.T) {
		lab := NewNetLab(t)
		if !strings.HasPrefix(lab.Prefix, "l2gw") || !strings.HasSuffix(lab.Prefix, "-") {
			t.Fatalf("Prefix = %q; want l2gw<id>-", lab.Prefix)
		}
		nsA, nsB = lab.AddNS("a"), lab.AddNS("b")
		lab.Veth(nsA, "va", nsB, "vb")
		lab.Addr(nsA, "va", "198.51.100.1/24")
		lab.Addr(nsB, "vb", "198.51.100.2/24")
		if out, err := lab.Exec(nsA, "ping", "-c1", "-W1", "198.51.100.2"); err != nil {
			t.Fatalf("ping a->b: %v: %s", err, out)
		}
		h := lab.Handle(nsB)
		if _, err := h.LinkByName("vb"); err != nil {
			t.Fatalf("LinkByName(vb) in %s: %v", nsB, err)
		}
		err := InNS(nsA, func() error {
			_, err := netlink.LinkByName("va")
			return err
		})
		if err != nil {
			t.Fatalf("InNS(%s) LinkByName(va): %v", nsA, err)
		}
	})
	out, _ := exec.Command("ip", "netns", "list").CombinedOutput()
	for _, ns := range []string{nsA, nsB} {
		if ns != "" && strings.Contains(string(out), ns) {
			t.Errorf("namespace %s still exists after cleanup", ns)
		}
	}
}
