package e2e

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/l2gw/l2gw/internal/testenv"
)

// DisableTxChecksumOffload is `ethtool -K dev tx off` for dev in namespace
// ns (the ETHTOOL_STXCSUM ioctl): the kernel then finishes every checksum in
// software before the packet leaves dev.
//
// Why the lab needs it: on a veth, a packet whose checksum is offloaded
// (CHECKSUM_PARTIAL) crosses the virtual wire unfinished. The Linux kernel
// on the other side accepts that, but Open vSwitch's userspace datapath reads
// the raw frame and drops the VXLAN packets for a bad UDP checksum
// (vtep-lab.md section 4). A physical NIC always puts a finished checksum on
// the wire, so the lab finishes it on the compute hosts' underlay cables
// rather than changing what the host agent does.
func DisableTxChecksumOffload(ns, dev string) error {
	return testenv.InNS(ns, func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("socket: %w", err)
		}
		defer unix.Close(fd)
		val := struct{ cmd, data uint32 }{cmd: unix.ETHTOOL_STXCSUM, data: 0}
		var ifr struct {
			name [unix.IFNAMSIZ]byte
			data uintptr
			_    [16]byte
		}
		copy(ifr.name[:], dev)
		ifr.data = uintptr(unsafe.Pointer(&val))
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
		runtime.KeepAlive(&val)
		if errno != 0 {
			return fmt.Errorf("ethtool -K %s tx off in %s: %w", dev, ns, errno)
		}
		return nil
	})
}
