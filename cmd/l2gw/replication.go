package main

import (
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/l2gw/l2gw/internal/planner"
)

// replicationFlags are the BUM replication flags of `l2gw server`.
type replicationFlags struct {
	mode         string   // --replication-mode: the default
	serviceNodes []string // --service-node: the default's service nodes
	switches     []string // --switch-replication NAME=MODE[:IP,IP…]
}

// splitSwitchReplication splits L2GW_SWITCH_REPLICATION: entries separated
// by ';' or white space (a comma separates the IPs of one entry).
func splitSwitchReplication(v string) []string {
	out := strings.FieldsFunc(v, func(r rune) bool { return r == ';' || unicode.IsSpace(r) })
	if len(out) == 0 {
		return nil
	}
	return out
}

// planner returns the planner configuration the flags give, validated:
// every logical switch of a switch named by --switch-replication uses that
// switch's mode, the others --replication-mode with --service-node.
func (f replicationFlags) planner() (planner.Config, error) {
	cfg := planner.Config{ReplicationMode: f.mode}
	if len(f.serviceNodes) > 0 {
		cfg.ServiceNodes = f.serviceNodes
	}
	if cfg.ReplicationMode == "" {
		cfg.ReplicationMode = planner.ReplicationSourceNode
	}
	if err := cfg.Validate(); err != nil {
		return planner.Config{}, fmt.Errorf("--replication-mode %s with --service-node %q: %w", cfg.ReplicationMode, f.serviceNodes, err)
	}
	for _, s := range f.switches {
		name, r, err := parseSwitchReplication(s)
		if err != nil {
			return planner.Config{}, err
		}
		if _, dup := cfg.Switches[name]; dup {
			return planner.Config{}, fmt.Errorf("--switch-replication: switch %s given twice", name)
		}
		if cfg.Switches == nil {
			cfg.Switches = map[string]planner.Replication{}
		}
		cfg.Switches[name] = r
	}
	return cfg, nil
}

// parseSwitchReplication parses NAME=MODE[:IP,IP…], e.g.
// tor1=service_node:192.0.2.50,192.0.2.51 or tor2=source_node.
func parseSwitchReplication(s string) (string, planner.Replication, error) {
	name, spec, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return "", planner.Replication{}, fmt.Errorf("--switch-replication %q: want NAME=MODE[:IP,IP…]", s)
	}
	mode, ips, hasIPs := strings.Cut(spec, ":")
	r := planner.Replication{Mode: strings.TrimSpace(mode)}
	if r.Mode == "" {
		return "", planner.Replication{}, fmt.Errorf("--switch-replication %q: no mode (source_node or service_node)", s)
	}
	if hasIPs {
		for ip := range strings.SplitSeq(ips, ",") {
			if ip = strings.TrimSpace(ip); ip != "" {
				r.ServiceNodes = append(r.ServiceNodes, ip)
			}
		}
	}
	if err := (planner.Config{ReplicationMode: r.Mode, ServiceNodes: r.ServiceNodes}).Validate(); err != nil {
		return "", planner.Replication{}, fmt.Errorf("--switch-replication %q: %w", s, err)
	}
	return name, r, nil
}

// replicationLog is the effective replication for the config log: the
// default then NAME=MODE[:IP,IP…] per overridden switch, sorted.
func replicationLog(c planner.Config) []string {
	out := []string{"default=" + replicationString(c.ReplicationMode, c.ServiceNodes)}
	var sws []string
	for name, r := range c.Switches {
		sws = append(sws, name+"="+replicationString(r.Mode, r.ServiceNodes))
	}
	slices.Sort(sws)
	return append(out, sws...)
}

func replicationString(mode string, nodes []string) string {
	if mode == "" {
		mode = planner.ReplicationSourceNode
	}
	if len(nodes) == 0 {
		return mode
	}
	return mode + ":" + strings.Join(nodes, ",")
}
