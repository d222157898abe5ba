package agentapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"time"
)

// vtepDump is what the status lab reads of a hardware_vtep database: one
// consistent snapshot (a single transaction of selects), in-process and
// fast, so that a status read between two dumps is between two close
// points in time (vtep-ctl runs a process per question, tens of
// milliseconds each on a loaded machine).
type vtepDump struct {
	// switches maps each Physical_Switch name to its ports' names.
	switches map[string][]string
	// bindings maps "port/vlan" to the bound Logical_Switch's name.
	bindings map[string]string
	// logicalSwitches holds the Logical_Switch names.
	logicalSwitches map[string]bool
	// remoteMACs maps "ls mac" to the locator's dst_ip (Ucast_Macs_Remote).
	remoteMACs map[string]string
	// mcast maps "ls mac" to the locators' dst_ips (Mcast_Macs_Remote).
	mcast map[string][]string
}

// ovsdbRows is one select's result.
type ovsdbRows struct {
	Rows    []map[string]json.RawMessage `json:"rows"`
	Error   string                       `json:"error"`
	Details string                       `json:"details"`
}

// dumpVTEP reads the tables of vtepDump from the ovsdb-server listening on
// the unix socket sock (RFC 7047 section 4.1.3, transact; a connection per
// dump, so that a restarted server is simply dialled again).
func dumpVTEP(ctx context.Context, sock string) (*vtepDump, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", sock, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	sel := func(table string, cols ...string) map[string]any {
		return map[string]any{"op": "select", "table": table, "where": []any{}, "columns": cols}
	}
	req := map[string]any{"id": 1, "method": "transact", "params": []any{"hardware_vtep",
		sel("Physical_Switch", "name", "ports"),
		sel("Physical_Port", "_uuid", "name", "vlan_bindings"),
		sel("Logical_Switch", "_uuid", "name"),
		sel("Ucast_Macs_Remote", "MAC", "logical_switch", "locator"),
		sel("Mcast_Macs_Remote", "MAC", "logical_switch", "locator_set"),
		sel("Physical_Locator_Set", "_uuid", "locators"),
		sel("Physical_Locator", "_uuid", "dst_ip"),
	}}
	if err := json.NewEncoder(conn).Encode(req); err != nil {
		return nil, fmt.Errorf("send transact: %w", err)
	}
	var resp struct {
		ID     any             `json:"id"`
		Result []ovsdbRows     `json:"result"`
		Error  json.RawMessage `json:"error"`
	}
	dec := json.NewDecoder(conn)
	for {
		resp.ID, resp.Result, resp.Error = nil, nil, nil
		if err := dec.Decode(&resp); err != nil {
			return nil, fmt.Errorf("read transact reply: %w", err)
		}
		if resp.ID != nil { // not a notification or an echo request
			break
		}
	}
	if len(resp.Error) > 0 && string(resp.Error) != "null" {
		return nil, fmt.Errorf("transact: %s", resp.Error)
	}
	if len(resp.Result) != 7 {
		return nil, fmt.Errorf("transact: %d results; want 7", len(resp.Result))
	}
	for _, r := range resp.Result {
		if r.Error != "" {
			return nil, fmt.Errorf("transact: %s: %s", r.Error, r.Details)
		}
	}
	ps, pp, ls, ucast, mcast, sets, locs := resp.Result[0].Rows, resp.Result[1].Rows, resp.Result[2].Rows,
		resp.Result[3].Rows, resp.Result[4].Rows, resp.Result[5].Rows, resp.Result[6].Rows

	out := &vtepDump{switches: map[string][]string{}, bindings: map[string]string{}, logicalSwitches: map[string]bool{},
		remoteMACs: map[string]string{}, mcast: map[string][]string{}}
	lsName := map[string]string{}
	for _, r := range ls {
		name := ovsString(r["name"])
		lsName[ovsUUID(r["_uuid"])] = name
		out.logicalSwitches[name] = true
	}
	portName := map[string]string{}
	for _, r := range pp {
		name := ovsString(r["name"])
		portName[ovsUUID(r["_uuid"])] = name
		for _, kv := range ovsMap(r["vlan_bindings"]) {
			var vlan int
			_ = json.Unmarshal(kv[0], &vlan)
			out.bindings[fmt.Sprintf("%s/%d", name, vlan)] = lsName[ovsUUID(kv[1])]
		}
	}
	for _, r := range ps {
		var ports []string
		for _, p := range ovsSet(r["ports"]) {
			ports = append(ports, portName[ovsUUID(p)])
		}
		out.switches[ovsString(r["name"])] = ports
	}
	locIP := map[string]string{}
	for _, r := range locs {
		locIP[ovsUUID(r["_uuid"])] = ovsString(r["dst_ip"])
	}
	setIPs := map[string][]string{}
	for _, r := range sets {
		var ips []string
		for _, l := range ovsSet(r["locators"]) {
			ips = append(ips, locIP[ovsUUID(l)])
		}
		setIPs[ovsUUID(r["_uuid"])] = ips
	}
	for _, r := range ucast {
		out.remoteMACs[lsName[ovsUUID(r["logical_switch"])]+" "+ovsString(r["MAC"])] = locIP[ovsUUID(r["locator"])]
	}
	for _, r := range mcast {
		out.mcast[lsName[ovsUUID(r["logical_switch"])]+" "+ovsString(r["MAC"])] = setIPs[ovsUUID(r["locator_set"])]
	}
	return out, nil
}

func ovsString(raw json.RawMessage) string {
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}

// ovsUUID decodes ["uuid", "…"] (RFC 7047 section 5.1).
func ovsUUID(raw json.RawMessage) string {
	var v []string
	if json.Unmarshal(raw, &v) != nil || len(v) != 2 {
		return ""
	}
	return v[1]
}

// ovsSet decodes a set: ["set", [elements]] or a single element.
func ovsSet(raw json.RawMessage) []json.RawMessage {
	var v []json.RawMessage
	if json.Unmarshal(raw, &v) != nil || len(v) != 2 {
		return nil
	}
	if ovsString(v[0]) != "set" {
		return []json.RawMessage{raw}
	}
	var elems []json.RawMessage
	_ = json.Unmarshal(v[1], &elems)
	return elems
}

// ovsMap decodes ["map", [[key, value], …]].
func ovsMap(raw json.RawMessage) [][2]json.RawMessage {
	var v []json.RawMessage
	if json.Unmarshal(raw, &v) != nil || len(v) != 2 || ovsString(v[0]) != "map" {
		return nil
	}
	var pairs [][2]json.RawMessage
	_ = json.Unmarshal(v[1], &pairs)
	return pairs
}
