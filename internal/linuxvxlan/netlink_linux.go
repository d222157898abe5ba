package linuxvxlan

import (
	"errors"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Netlink is the part of *netlink.Handle a Dataplane uses. The real handle
// serves in production and in the namespace tests; an in-memory kernel
// serves the unit tests, which need no root.
type Netlink interface {
	LinkList() ([]netlink.Link, error)
	LinkByName(name string) (netlink.Link, error)
	LinkAdd(link netlink.Link) error
	LinkDel(link netlink.Link) error
	LinkSetMasterByIndex(link netlink.Link, masterIndex int) error
	LinkSetNoMaster(link netlink.Link) error
	LinkSetUp(link netlink.Link) error
	LinkSetMTU(link netlink.Link, mtu int) error
	LinkSetLearning(link netlink.Link, mode bool) error
	LinkSetIP6AddrGenMode(link netlink.Link, mode int) error
	NeighList(linkIndex, family int) ([]netlink.Neigh, error)
	NeighAppend(neigh *netlink.Neigh) error
	NeighSet(neigh *netlink.Neigh) error
	NeighDel(neigh *netlink.Neigh) error
}

var _ Netlink = (*netlink.Handle)(nil)

// dumpAttempts bounds how often a dump is read again when the kernel flags
// it as interrupted (NLM_F_DUMP_INTR: the table changed while it was read,
// so the result may miss or repeat objects).
const dumpAttempts = 5

// dump returns the result of the first uninterrupted call of list.
func dump[T any](list func() ([]T, error)) ([]T, error) {
	var err error
	for range dumpAttempts {
		var got []T
		got, err = list()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return got, err
		}
	}
	return nil, err
}

// IsGone reports whether err means the object is already absent: deleted
// by someone else between a dump and a request about it.
func IsGone(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENODEV) || errors.As(err, &nf)
}

// in6AddrGenModeNone is IN6_ADDR_GEN_MODE_NONE (linux/if_link.h): no IPv6
// link-local address on the device.
const in6AddrGenModeNone = 1
