package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/l2gw/l2gw/internal/model"
)

// listSomeMax is how many items listSome names before it only counts.
const listSomeMax = 5

// listSome names up to listSomeMax items and how many there are, for
// messages that must stay short: "2 ports: a, b",
// "7 ports: a, b, c, d, e and 2 more".
func listSome(items []string, one, many string) string {
	noun := many
	if len(items) == 1 {
		noun = one
	}
	shown := items[:min(len(items), listSomeMax)]
	s := fmt.Sprintf("%d %s: %s", len(items), noun, strings.Join(shown, ", "))
	if rest := len(items) - len(shown); rest > 0 {
		s += fmt.Sprintf(" and %d more", rest)
	}
	return s
}

// portsWhere returns the ids of the ports whose column equals value, in id
// order.
func portsWhere(ctx context.Context, w *wtx, column, value string) ([]string, error) {
	ids, err := queryStrings(ctx, w.db, `SELECT id FROM ports WHERE `+column+` = $1 ORDER BY id`, value)
	if err != nil {
		return nil, fmt.Errorf("ports with %s %s: %w", column, value, err)
	}
	return ids, nil
}

// networkInUse is Neutron's NetworkInUse (its message first), naming the
// ports: deleting them along with the network would leave VMs that still
// show ACTIVE while their MACs vanish from the switches.
func networkInUse(id string, ports []string) error {
	return model.NewFault(model.ErrInUse, "NetworkInUse",
		"Unable to complete operation on network %s. There are one or more ports still in use on the network: %s. Delete the ports first.",
		id, listSome(ports, "port", "ports"))
}

// hostInUse refuses deleting a host that ports are bound to (their
// binding:host_id): without its VTEP IP their MACs would vanish from the
// switches while the ports still show bound and ACTIVE.
func hostInUse(name, id string, ports []string) error {
	return model.NewFault(model.ErrInUse, "HostInUse",
		"Unable to delete host %s (%s): ports are bound to it (binding:host_id): %s. Delete the ports or bind them to another host first.",
		name, id, listSome(ports, "port", "ports"))
}
