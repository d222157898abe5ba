package main

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

// rpcConn is a minimal OVSDB JSON-RPC (RFC 7047) connection: requests
// written as pre-encoded bytes, replies matched by id, echo answered, and
// "update" notifications handed to onUpdate with the time they were read.
// It is deliberately not libovsdb: the bench measures the server and l2gw,
// not a client library's row decoding, and sends the raw transaction
// exactly as encoded bytes.
type rpcConn struct {
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

// dialRPC connects to a unix:PATH target. onUpdate runs on the reader
// goroutine, which the connection owns and Close stops.
func dialRPC(ctx context.Context, target string, onUpdate func(time.Time, json.RawMessage)) (*rpcConn, error) {
	path, ok := strings.CutPrefix(target, "unix:")
	if !ok {
		return nil, fmt.Errorf("target %q: only unix: is supported", target)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", target, err)
	}
	r := &rpcConn{conn: c, pending: map[int]chan rpcReply{}, onUpdate: onUpdate, done: make(chan struct{})}
	go r.read()
	return r, nil
}

func (r *rpcConn) read() {
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

func (r *rpcConn) write(b []byte) error {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	_, err := r.conn.Write(b)
	return err
}

// call sends method with params (already JSON) and waits for the reply. It
// returns the result, the time the request was written and the time the
// reply was read.
func (r *rpcConn) call(ctx context.Context, method string, params []byte) (json.RawMessage, time.Time, time.Time, error) {
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
func (r *rpcConn) Close() {
	r.conn.Close()
	<-r.done
}

// transact runs ops (a JSON array of operations) as one transaction and
// checks every operation's result; it returns when the request was written
// and when the reply was read.
func (r *rpcConn) transact(ctx context.Context, ops []byte) (sent, got time.Time, err error) {
	params := append([]byte(`["hardware_vtep",`), ops[1:]...) // ops is "[...]"
	res, sent, got, err := r.call(ctx, "transact", params)
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

// view is what a monitor connection sees of the switch: the rows the bench
// counts, updated from "update" notifications, and waiters fired with the
// time of the update that made their condition true.
type view struct {
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
	cond func(*view) bool
	fire chan time.Time
}

func newView() *view {
	return &view{macs: map[string]string{}, macSet: map[string]int{}, ls: map[string]string{},
		switches: map[string]string{}, bindings: map[string]int{}, mcast: map[string]bool{}}
}

// monitorTables is the monitor request: only the columns the bench looks at.
const monitorTables = `{"Ucast_Macs_Remote":{"columns":["MAC"]},"Logical_Switch":{"columns":["name"]},` +
	`"Physical_Switch":{"columns":["name"]},"Physical_Port":{"columns":["vlan_bindings"]},"Mcast_Macs_Remote":{"columns":["MAC"]}}`

// watch opens a monitor connection to target and returns its view.
func watch(ctx context.Context, target string) (*view, *rpcConn, error) {
	v := newView()
	c, err := dialRPC(ctx, target, func(at time.Time, params json.RawMessage) {
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
	res, _, at, err := c.call(ctx, "monitor", []byte(`["hardware_vtep",null,`+monitorTables+`]`))
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	v.apply(at, res)
	return v, c, nil
}

func (v *view) fail(err error) {
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
func (v *view) apply(at time.Time, raw json.RawMessage) {
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

// errViewBroken is returned by wait when an update could not be decoded.
var errViewBroken = errors.New("monitor update not understood")

// wait returns the time of the update after which cond held (the last
// update's time if it holds already).
func (v *view) wait(ctx context.Context, cond func(*view) bool) (time.Time, error) {
	v.mu.Lock()
	if v.bad != nil {
		v.mu.Unlock()
		return time.Time{}, fmt.Errorf("%w: %v", errViewBroken, v.bad)
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
func (v *view) String() string {
	return fmt.Sprintf("switches=%d ls=%d bindings=%d ucast_remote=%d mcast_remote=%d",
		len(v.switches), len(v.ls), v.nBindings(), len(v.macs), len(v.mcast))
}

func (v *view) nBindings() int {
	n := 0
	for _, b := range v.bindings {
		n += b
	}
	return n
}

// programmed is the condition "the switch holds a whole connection of n
// MACs on one logical switch": LS, bindings on every port, flooding row.
func programmed(n int) func(*view) bool {
	return func(v *view) bool {
		return len(v.macs) == n && len(v.ls) == 1 && v.nBindings() == len(switchPorts) && len(v.mcast) == 1
	}
}

// empty is the condition "nothing of l2gw's is left".
func empty(v *view) bool {
	return len(v.macs) == 0 && len(v.ls) == 0 && v.nBindings() == 0 && len(v.mcast) == 0
}
