package main

import (
	"errors"
	"fmt"
	"strings"
)

// deviceArg is one parsed --device flag of l2-gateway-create/-update.
type deviceArg struct {
	Name string
	// Interfaces is nil when the flag had no interface_names key (an update
	// that only names the device for --add-interface/--remove-interface).
	Interfaces []interfaceArg
}

// interfaceArg is one interface of a --device or --add-interface value.
// SegIDs are kept as the user typed them: the API validates them and
// accepts numeric strings, as the original client sends them.
type interfaceArg struct {
	Name   string
	SegIDs []string
}

// parseKeyValues splits "k1=v1,k2=v2" like neutronclient's str2dict: a
// comma-separated piece without '=' continues the previous value, so
// interface_names="p1;p2:100,101" keeps its commas.
func parseKeyValues(s string) (map[string]string, []string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil, errors.New("empty value")
	}
	var pairs []string
	for _, piece := range strings.Split(s, ",") {
		if strings.Contains(piece, "=") {
			pairs = append(pairs, piece)
			continue
		}
		if len(pairs) == 0 {
			return nil, nil, fmt.Errorf("missing value for key %q", piece)
		}
		pairs[len(pairs)-1] += "," + piece
	}
	kv := make(map[string]string, len(pairs))
	order := make([]string, 0, len(pairs))
	for _, p := range pairs {
		k, v, _ := strings.Cut(p, "=")
		k = strings.TrimSpace(k)
		if k == "" {
			return nil, nil, fmt.Errorf("empty key in %q", p)
		}
		if _, dup := kv[k]; dup {
			return nil, nil, fmt.Errorf("key %q given twice", k)
		}
		kv[k] = v
		order = append(order, k)
	}
	return kv, order, nil
}

// parseDevice parses a --device value:
//
//	name=<device>[,interface_names=<if1>[:<seg1>[,<seg2>...]][;<if2>[:...]]...]
//
// the seed's syntax (l2-gateway-api.rst). The syntax of the openstack client
// plugin, "<if>|<seg1>#<seg2>", is accepted too.
func parseDevice(s string) (deviceArg, error) {
	kv, order, err := parseKeyValues(s)
	if err != nil {
		return deviceArg{}, fmt.Errorf("--device %q: %w", s, err)
	}
	for _, k := range order {
		if k != "name" && k != "interface_names" {
			return deviceArg{}, fmt.Errorf("--device %q: unknown key %q (want name, interface_names)", s, k)
		}
	}
	var d deviceArg
	d.Name = strings.TrimSpace(kv["name"])
	if d.Name == "" {
		return deviceArg{}, fmt.Errorf("--device %q: name= is required", s)
	}
	names, ok := kv["interface_names"]
	if !ok {
		return d, nil
	}
	d.Interfaces = []interfaceArg{}
	for _, part := range strings.Split(names, ";") {
		if strings.TrimSpace(part) == "" {
			continue // tolerate "p1;" and "p1;;p2"
		}
		ifc, err := parseInterface(part)
		if err != nil {
			return deviceArg{}, fmt.Errorf("--device %q: %w", s, err)
		}
		d.Interfaces = append(d.Interfaces, ifc)
	}
	if len(d.Interfaces) == 0 {
		return deviceArg{}, fmt.Errorf("--device %q: interface_names lists no interface", s)
	}
	return d, nil
}

// parseInterface parses "<name>[:<seg>[,<seg>...]]" (or "<name>|<seg>#<seg>").
func parseInterface(s string) (interfaceArg, error) {
	name, segs, hasSegs := strings.Cut(s, "|")
	segSep := "#"
	if !hasSegs {
		name, segs, hasSegs = strings.Cut(s, ":")
		segSep = ","
	}
	ifc := interfaceArg{Name: strings.TrimSpace(name)}
	if ifc.Name == "" {
		return interfaceArg{}, fmt.Errorf("interface %q: empty interface name", s)
	}
	if !hasSegs {
		return ifc, nil
	}
	for _, seg := range strings.Split(segs, segSep) {
		seg = strings.TrimSpace(seg)
		if seg == "" {
			return interfaceArg{}, fmt.Errorf("interface %q: empty segmentation id", s)
		}
		ifc.SegIDs = append(ifc.SegIDs, seg)
	}
	return ifc, nil
}

// applyInterfaceChanges computes a device's new interface list for
// l2-gateway-update: cur minus the removed names, then the added interfaces
// (an added name already present replaces that entry in place).
func applyInterfaceChanges(cur []interfaceArg, add []interfaceArg, remove []string) ([]interfaceArg, error) {
	out := make([]interfaceArg, 0, len(cur)+len(add))
	present := make(map[string]bool, len(cur))
	for _, c := range cur {
		present[c.Name] = true
	}
	removed := make(map[string]bool, len(remove))
	for _, r := range remove {
		r = strings.TrimSpace(r)
		if !present[r] {
			return nil, fmt.Errorf("--remove-interface %q: the device has no such interface", r)
		}
		removed[r] = true
	}
	for _, c := range cur {
		if !removed[c.Name] {
			out = append(out, c)
		}
	}
	for _, a := range add {
		replaced := false
		for i := range out {
			if out[i].Name == a.Name {
				out[i] = a
				replaced = true
			}
		}
		if !replaced {
			out = append(out, a)
		}
	}
	return out, nil
}
