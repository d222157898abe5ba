// Package vtepwatch is the benches' view of a hardware_vtep switch: real
// ovsdb-servers started in temp folders, a minimal OVSDB JSON-RPC
// connection, and a monitor that counts l2gw's rows and times when a
// condition on them first holds.
package vtepwatch

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Conn is a minimal OVSDB JSON-RPC (RFC 7047) connection: requests
// written as pre-encoded bytes, replies matched by id, echo answered, and
// "update" notifications handed to onUpdate with the time they were read.
// It is deliberately not libovsdb: the bench measures the server and l2gw,
// not a client library's row decoding, and sends the raw transaction
// exactly as encoded bytes.
type Conn struct {
	conn     net.Conn
	wmu      sync.Mutex
	mu       sync.Mutex
	nextID   int
	pending  map[int]chan rpcReply
	onUpdate func(at time.Time, params json.RawMessage)
	done     chan struct{} // closed when the reader exits
	err      error         // why the reader exited; read after done
}

type rpcReply struct {
	at     time.Time
	result json.RawMessage
	err    json.RawMessage
}

type rpcMessage struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  json.RawMessage `json:"error"`
}

// Dial connects to a unix:PATH target. onUpdate runs on the reader
// goroutine, which the connection owns and Close stops.
func Dial(ctx context.Context, target string, onUpdate func(time.Time, json.RawMessage)) (*Conn, error) {
	path, ok := strings.CutPrefix(target, "unix:")
	if !ok {
		return nil, fmt.Errorf("target %q: only unix: is supported", target)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", target, err)
	}
	r := &Conn{conn: c, pending: map[int]chan rpcReply{}, onUpdate: onUpdate, done: make(chan struct{})}
	go r.read()
	return r, nil
}

func (r *Conn) read() {
	defer close(r.done)
	dec := json.NewDecoder(bufio.NewReaderSize(r.conn, 1<<20))
	for {
		var m rpcMessage
		if err := dec.Decode(&m); err != nil {
			r.err = err
			r.mu.Lock()
			for id, ch := range r.pending {
				close(ch)
				delete(r.pending, id)
			}
			r.mu.Unlock()
			return
		}
		at := time.Now()
		switch m.Method {
		case "update":
			if r.onUpdate != nil {
				r.onUpdate(at, m.Params)
			}
		case "echo":
			b, _ := json.Marshal(map[string]any{"id": m.ID, "result": m.Params, "error": nil})
			_ = r.write(b)
		case "":
			id, err := strconv.Atoi(string(m.ID))
			if err != nil {
				continue
			}
			r.mu.Lock()
			ch := r.pending[id]
			delete(r.pending, id)
			r.mu.Unlock()
			if ch != nil {
				ch <- rpcReply{at: at, result: m.Result, err: m.Error}
			}
		}
	}
}

func (r *Conn) write(b []byte) error {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	_, err := r.conn.Write(b)
	return err
}

// Call sends method with params (already JSON) and waits for the reply. It
// returns the result, the time the request was written and the time the
// reply was read.
func (r *Conn) Call(ctx context.Context, method string, params []byte) (json.RawMessage, time.Time, time.Time, error) {
	ch := make(chan rpcReply, 1)
	r.mu.Lock()
	r.nextID++
	id := r.nextID
	r.pending[id] = ch
	r.mu.Unlock()
	var b []byte
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, int64(id), 10)
	b = append(b, `,"method":`...)
	b = strconv.AppendQuote(b, method)
	b = append(b, `,"params":`...)
	b = append(b, params...)
	b = append(b, '}')
	sent := time.Now()
	if err := r.write(b); err != nil {
		return nil, sent, time.Time{}, fmt.Errorf("%s: %w", method, err)
	}
	select {
	case rep, ok := <-ch:
		if !ok {
			return nil, sent, time.Time{}, fmt.Errorf("%s: connection closed: %w", method, r.err)
		}
		if len(rep.err) > 0 && string(rep.err) != "null" {
			return nil, sent, rep.at, fmt.Errorf("%s: %s", method, rep.err)
		}
		return rep.result, sent, rep.at, nil
	case <-ctx.Done():
		return nil, sent, time.Time{}, ctx.Err()
	}
}

// Close closes the connection and waits for the reader to exit.
func (r *Conn) Close() {
	r.conn.Close()
	<-r.done
}

// Transact runs ops (a JSON array of operations) as one transaction and
// checks every operation's result; it returns when the request was written
// and when the reply was read.
func (r *Conn) Transact(ctx context.Context, ops []byte) (sent, got time.Time, err error) {
	params := append([]byte(`["hardware_vtep",`), ops[1:]...) // ops is "[...]"
	res, sent, got, err := r.Call(ctx, "transact", params)
	if err != nil {
		return sent, got, err
	}
	var results []map[string]any
	if err := json.Unmarshal(res, &results); err != nil {
		return sent, got, fmt.Errorf("transact result: %w", err)
	}
	for i, x := range results {
		if e, ok := x["error"]; ok && e != nil {
			return sent, got, fmt.Errorf("transact op %d: %v: %v", i, e, x["details"])
		}
	}
	return sent, got, nil
}

// View is what a monitor connection sees of the switch: the rows the bench
// counts, updated from "update" notifications, and waiters fired with the
// time of the update that made their condition true.
type View struct {
	mu       sync.Mutex
	macs     map[string]string // Ucast_Macs_Remote uuid -> MAC
	macSet   map[string]int    // MAC -> rows
	ls       map[string]string // Logical_Switch uuid -> name
	switches map[string]string // Physical_Switch uuid -> name
	bindings map[string]int    // Physical_Port uuid -> vlan_bindings entries
	mcast    map[string]bool   // Mcast_Macs_Remote uuids
	waiters  []*waiter
	lastAt   time.Time
	bad      error // first undecodable update
}

type waiter struct {
	cond func(*View) bool
	fire chan time.Time
}

func newView() *View {
	return &View{macs: map[string]string{}, macSet: map[string]int{}, ls: map[string]string{},
		switches: map[string]string{}, bindings: map[string]int{}, mcast: map[string]bool{}}
}

// monitorTables is the monitor request: only the columns the bench looks at.
const monitorTables = `{"Ucast_Macs_Remote":{"columns":["MAC"]},"Logical_Switch":{"columns":["name"]},` +
	`"Physical_Switch":{"columns":["name"]},"Physical_Port":{"columns":["vlan_bindings"]},"Mcast_Macs_Remote":{"columns":["MAC"]}}`

// Watch opens a monitor connection to target and returns its view.
func Watch(ctx context.Context, target string) (*View, *Conn, error) {
	v := newView()
	c, err := Dial(ctx, target, func(at time.Time, params json.RawMessage) {
		var p []json.RawMessage
		if err := json.Unmarshal(params, &p); err != nil || len(p) != 2 {
			v.fail(fmt.Errorf("update params %.100s: %v", params, err))
			return
		}
		v.apply(at, p[1])
	})
	if err != nil {
		return nil, nil, err
	}
	res, _, at, err := c.Call(ctx, "monitor", []byte(`["hardware_vtep",null,`+monitorTables+`]`))
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	v.apply(at, res)
	return v, c, nil
}

func (v *View) fail(err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.bad == nil {
		v.bad = err
	}
}

type rowUpdate struct {
	Old map[string]json.RawMessage `json:"old"`
	New map[string]json.RawMessage `json:"new"`
}

// apply folds one table-updates object into the view and fires waiters.
func (v *View) apply(at time.Time, raw json.RawMessage) {
	var tu map[string]map[string]rowUpdate
	if err := json.Unmarshal(raw, &tu); err != nil {
		v.fail(fmt.Errorf("table updates: %w", err))
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for table, rows := range tu {
		for uuid, ru := range rows {
			gone := ru.New == nil
			switch table {
			case "Ucast_Macs_Remote":
				if old, ok := v.macs[uuid]; ok {
					if v.macSet[old]--; v.macSet[old] <= 0 {
						delete(v.macSet, old)
					}
					delete(v.macs, uuid)
				}
				if !gone {
					mac := str(ru.New["MAC"])
					v.macs[uuid] = mac
					v.macSet[mac]++
				}
			case "Logical_Switch":
				if gone {
					delete(v.ls, uuid)
				} else {
					v.ls[uuid] = str(ru.New["name"])
				}
			case "Physical_Switch":
				if gone {
					delete(v.switches, uuid)
				} else {
					v.switches[uuid] = str(ru.New["name"])
				}
			case "Physical_Port":
				if gone {
					delete(v.bindings, uuid)
				} else {
					v.bindings[uuid] = mapLen(ru.New["vlan_bindings"])
				}
			case "Mcast_Macs_Remote":
				if gone {
					delete(v.mcast, uuid)
				} else {
					v.mcast[uuid] = true
				}
			}
		}
	}
	v.lastAt = at
	kept := v.waiters[:0]
	for _, w := range v.waiters {
		if w.cond(v) {
			w.fire <- at
		} else {
			kept = append(kept, w)
		}
	}
	v.waiters = kept
}

// str decodes a JSON string ("" for anything else).
func str(b json.RawMessage) string {
	var s string
	_ = json.Unmarshal(b, &s)
	return s
}

// mapLen counts the pairs of an OVSDB map value ["map", [[k, v], ...]].
func mapLen(b json.RawMessage) int {
	var m []json.RawMessage
	if json.Unmarshal(b, &m) != nil || len(m) != 2 {
		return 0
	}
	var pairs []json.RawMessage
	if json.Unmarshal(m[1], &pairs) != nil {
		return 0
	}
	return len(pairs)
}

// ErrViewBroken is returned by wait when an update could not be decoded.
var ErrViewBroken = errors.New("monitor update not understood")

// Wait returns the time of the update after which cond held (the last
// update's time if it holds already).
func (v *View) Wait(ctx context.Context, cond func(*View) bool) (time.Time, error) {
	v.mu.Lock()
	if v.bad != nil {
		v.mu.Unlock()
		return time.Time{}, fmt.Errorf("%w: %v", ErrViewBroken, v.bad)
	}
	if cond(v) {
		at := v.lastAt
		v.mu.Unlock()
		return at, nil
	}
	w := &waiter{cond: cond, fire: make(chan time.Time, 1)}
	v.waiters = append(v.waiters, w)
	v.mu.Unlock()
	select {
	case at := <-w.fire:
		return at, nil
	case <-ctx.Done():
		v.mu.Lock()
		for i, x := range v.waiters {
			if x == w {
				v.waiters = append(v.waiters[:i], v.waiters[i+1:]...)
				break
			}
		}
		summary := v.String()
		v.mu.Unlock()
		select { // fired between the timeout and the removal
		case at := <-w.fire:
			return at, nil
		default:
		}
		return time.Time{}, fmt.Errorf("waiting for the switch: %w (%s)", ctx.Err(), summary)
	}
}

// String summarises the view (for errors); the caller holds v.mu.
func (v *View) String() string {
	return fmt.Sprintf("switches=%d ls=%d bindings=%d ucast_remote=%d mcast_remote=%d",
		len(v.switches), len(v.ls), v.nBindings(), len(v.macs), len(v.mcast))
}

func (v *View) nBindings() int {
	n := 0
	for _, b := range v.bindings {
		n += b
	}
	return n
}

// The counting methods below are for the conditions given to Wait, which
// run with the view locked.

// MACs is the number of Ucast_Macs_Remote rows.
func (v *View) MACs() int { return len(v.macs) }

// HasMAC reports whether a Ucast_Macs_Remote row has mac.
func (v *View) HasMAC(mac string) bool { return v.macSet[mac] > 0 }

// Switches is the number of Physical_Switch rows.
func (v *View) Switches() int { return len(v.switches) }

// LogicalSwitches is the number of Logical_Switch rows.
func (v *View) LogicalSwitches() int { return len(v.ls) }

// Bindings is the number of VLAN bindings over every port.
func (v *View) Bindings() int { return v.nBindings() }

// McastRows is the number of Mcast_Macs_Remote rows.
func (v *View) McastRows() int { return len(v.mcast) }

// Summary is String with the view locked, for errors outside conditions.
func (v *View) Summary() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.String()
}

// Programmed is the condition "the switch holds networks connections of
// macs MACs in all, with bindings VLAN bindings and one flooding row per
// logical switch".
func Programmed(networks, macs, bindings int) func(*View) bool {
	return func(v *View) bool {
		return len(v.macs) == macs && len(v.ls) == networks && v.nBindings() == bindings && len(v.mcast) == networks
	}
}

// Empty is the condition "nothing of l2gw's is left".
func Empty(v *View) bool {
	return len(v.macs) == 0 && len(v.ls) == 0 && v.nBindings() == 0 && len(v.mcast) == 0
}
