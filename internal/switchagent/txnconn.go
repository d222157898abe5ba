package switchagent

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"

	"github.com/ovn-org/libovsdb/ovsdb"
)

// txnConn is the session's transaction connection: a minimal OVSDB
// JSON-RPC client (RFC 7047 §4) that sends "transact", "echo" and the
// Ucast_Macs_Remote monitor's requests (remotemacs.go), hands the
// server's notifications to notify and answers its echo probes, nothing
// else. The agent's other tables stay on libovsdb's monitor and cache
// (session.client); transactions skip libovsdb's reflective encoding
// (opjson.go) and schema validation, which were a large part of the
// agent's time before a big transaction reached the switch.
type txnConn struct {
	db   string
	conn net.Conn
	// notify, when set, receives every notification (a request without
	// id, e.g. "update2") in the reader goroutine, in the order the
	// server sent them relative to the replies.
	notify func(method string, params json.RawMessage)

	wmu sync.Mutex // one request on the wire at a time
	buf []byte     // request buffer, reused (under wmu)

	mu      sync.Mutex
	nextID  uint64
	pending map[uint64]pendingCall
	err     error // why the connection is closed

	done chan struct{} // closed when the reader has exited
}

type rpcReply struct {
	result  json.RawMessage
	err     json.RawMessage
	val     any   // what the call's hook made of result
	hookErr error // the hook's error
}

// pendingCall is a call waiting for its reply. hook, when set, runs in
// the reader goroutine on a successful reply before any later message is
// read: what it records is in place before the notifications that follow
// the reply are applied. Its result is valid only during the hook (the
// call then returns no raw result, only what hook made of it).
type pendingCall struct {
	ch   chan rpcReply
	hook func(result json.RawMessage) (any, error)
}

// errTxnClosed is the error of a call on a closed transaction connection.
var errTxnClosed = errors.New("ovsdb transaction connection closed")

// dialTxn connects to target (tcp:, ssl: with tlsConf, unix:) for
// transactions on database db; notify (may be nil) receives the server's
// notifications (txnConn.notify). The connection owns its reader
// goroutine, which exits when the connection fails or is closed (Close
// waits for it).
func dialTxn(ctx context.Context, target, db string, tlsConf *tls.Config, notify func(method string, params json.RawMessage)) (*txnConn, error) {
	network, addr, ok := strings.Cut(target, ":")
	if !ok {
		return nil, fmt.Errorf("target %q: want tcp:, ssl: or unix:", target)
	}
	var d net.Dialer
	var c net.Conn
	var err error
	switch network {
	case "tcp", "unix":
		c, err = d.DialContext(ctx, network, addr)
	case "ssl":
		td := tls.Dialer{NetDialer: &d, Config: tlsConf}
		c, err = td.DialContext(ctx, "tcp", addr)
	default:
		return nil, fmt.Errorf("target %q: want tcp:, ssl: or unix:", target)
	}
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", target, err)
	}
	t := &txnConn{db: db, conn: c, notify: notify, pending: map[uint64]pendingCall{}, done: make(chan struct{})}
	go t.read()
	return t, nil
}

// rawRef is a JSON value in the decoder's buffer, not copied out of it
// as json.RawMessage is (a 10,000-row transaction's results are ~0.5 MB):
// valid until the next Decode.
type rawRef []byte

func (r *rawRef) UnmarshalJSON(b []byte) error {
	*r = b
	return nil
}

// rpcMsg is any message the server sends: a reply (id, result, error) or
// a request (id, method, params).
type rpcMsg struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result rawRef          `json:"result"`
	Error  json.RawMessage `json:"error"`
}

func (t *txnConn) read() {
	defer close(t.done)
	var src io.Reader = bufio.NewReaderSize(t.conn, 64<<10)
	dec := json.NewDecoder(src)
	var err error
	for {
		var m rpcMsg
		if err = dec.Decode(&m); err != nil {
			break
		}
		if len(m.Result)+len(m.Params) > bigMessage {
			// The decoder keeps a buffer as large as the largest message
			// (a 10,000-row monitor reply: MBs) for the connection's life;
			// a new one starts small, after what the old one read ahead.
			src = io.MultiReader(dec.Buffered(), src)
			dec = json.NewDecoder(src)
		}
		if m.Method != "" {
			if m.Method == "echo" { // the server's probe (RFC 7047 §4.1.11)
				err = t.send(func(b []byte) ([]byte, error) {
					b = append(b, `{"id":`...)
					b = append(b, m.ID...)
					b = append(b, `,"result":`...)
					b = append(b, m.Params...)
					return append(b, `,"error":null}`...), nil
				})
				if err != nil {
					break
				}
				continue
			}
			if t.notify != nil && (len(m.ID) == 0 || string(m.ID) == "null") {
				t.notify(m.Method, m.Params)
			}
			continue // no other request is expected here
		}
		id, perr := strconv.ParseUint(string(m.ID), 10, 64)
		if perr != nil {
			continue
		}
		t.mu.Lock()
		pc, ok := t.pending[id]
		delete(t.pending, id)
		t.mu.Unlock()
		if !ok {
			continue
		}
		r := rpcReply{err: m.Error}
		if pc.hook != nil {
			if !isError(r.err) {
				r.val, r.hookErr = pc.hook(json.RawMessage(m.Result))
			}
		} else {
			r.result = bytes.Clone(m.Result) // m.Result is the decoder's
		}
		pc.ch <- r
	}
	t.mu.Lock()
	if t.err == nil {
		t.err = fmt.Errorf("%w: %w", errTxnClosed, err)
	}
	for id, pc := range t.pending {
		close(pc.ch)
		delete(t.pending, id)
	}
	t.mu.Unlock()
	t.conn.Close()
}

// bigMessage is the size of a message after which the reader lets its
// decoder's buffer go. Smaller ones (a 10,000-row transaction's results:
// ~0.5 MB) keep it: the next one would regrow it by doubling, allocating
// twice its size.
const bigMessage = 1 << 20

// spillAt is how much of a request send holds before enc writes it out
// (spill): a 10,000-row transaction is ~2 MB of JSON, which was built
// whole, grown by doubling, before its first byte left.
const spillAt = 64 << 10

// send writes the request enc appends to an empty buffer; enc may write
// out what it has appended so far with spill. A failed enc or write may
// leave part of the request on the wire (call closes the connection).
func (t *txnConn) send(enc func([]byte) ([]byte, error)) error {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	b, err := enc(t.buf[:0])
	if err == nil {
		_, err = t.conn.Write(b)
	}
	if cap(b) <= 1<<20 {
		t.buf = b[:0] // keep small buffers (spill keeps them small)
	}
	return err
}

// spill writes b out when it holds spillAt bytes or more and returns what
// to append the rest of the request to. Only in an enc of send (under
// wmu).
func (t *txnConn) spill(b []byte) ([]byte, error) {
	if len(b) < spillAt {
		return b, nil
	}
	if _, err := t.conn.Write(b); err != nil {
		return b, err
	}
	return b[:0], nil
}

func isError(e json.RawMessage) bool { return len(e) > 0 && string(e) != "null" }

// call sends method with the params enc appends and waits for its
// result, and what hook (nil: none; see pendingCall) made of it. A failed
// write closes the connection: part of a request may be on the wire.
//
// sent, when set, runs once the whole request is on the wire, before the
// reply is waited for.
func (t *txnConn) call(ctx context.Context, method string, enc func([]byte) ([]byte, error), hook func(json.RawMessage) (any, error), sent func()) (json.RawMessage, any, error) {
	// A call given up on before it is sent is not sent: otherwise a reply
	// quick enough to be waiting beside ctx.Done() would win half the time.
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	ch := make(chan rpcReply, 1)
	t.mu.Lock()
	if t.err != nil {
		err := t.err
		t.mu.Unlock()
		return nil, nil, err
	}
	t.nextID++
	id := t.nextID
	t.pending[id] = pendingCall{ch: ch, hook: hook}
	t.mu.Unlock()
	err := t.send(func(b []byte) ([]byte, error) {
		b = append(b, `{"id":`...)
		b = strconv.AppendUint(b, id, 10)
		b = append(b, `,"method":`...)
		b = appendString(b, method)
		b = append(b, `,"params":`...)
		b, err := enc(b)
		return append(b, '}'), err
	})
	if err != nil {
		t.mu.Lock()
		delete(t.pending, id)
		t.mu.Unlock()
		if !errors.Is(err, net.ErrClosed) {
			t.conn.Close()
		}
		return nil, nil, fmt.Errorf("%s: %w", method, err)
	}
	if sent != nil {
		sent()
	}
	select {
	case r, ok := <-ch:
		if !ok {
			t.mu.Lock()
			err := t.err
			t.mu.Unlock()
			return nil, nil, fmt.Errorf("%s: %w", method, err)
		}
		if isError(r.err) {
			return nil, nil, fmt.Errorf("%s: error %s", method, r.err)
		}
		if r.hookErr != nil {
			return nil, nil, fmt.Errorf("%s: %w", method, r.hookErr)
		}
		return r.result, r.val, nil
	case <-ctx.Done():
		t.mu.Lock()
		delete(t.pending, id)
		t.mu.Unlock()
		return nil, nil, ctx.Err()
	}
}

// Transact runs ops as one transaction (RFC 7047 §4.1.3) and returns its
// results: one per operation, and one more when the transaction failed
// as a whole (as libovsdb's Transact does).
func (t *txnConn) Transact(ctx context.Context, ops ...ovsdb.Operation) ([]ovsdb.OperationResult, error) {
	return t.TransactThen(ctx, nil, ops...)
}

// TransactThen is Transact calling then (when not nil) with the results
// in the reader goroutine, before any message the server sent after the
// reply is handled: a view of the database that then updates from the
// results and notify updates from later notifications stays in order.
// then does not run when the call is abandoned (ctx done) or the
// connection fails before the reply.
func (t *txnConn) TransactThen(ctx context.Context, then func([]ovsdb.OperationResult), ops ...ovsdb.Operation) ([]ovsdb.OperationResult, error) {
	var hook func(txnResults)
	if then != nil {
		hook = func(r txnResults) { then(r.All()) }
	}
	res, err := t.transactLists(ctx, hook, nil, ops)
	if err != nil {
		return nil, err
	}
	return res.All(), nil
}

// transactLists is TransactThen of the operations of lists one after the
// other (a fence before a diff's operations without copying them), written
// out as they are encoded; sent (may be nil) runs once they are all on the
// wire (see call). The results are compact for a bulk transaction's
// (txnResults).
func (t *txnConn) transactLists(ctx context.Context, then func(txnResults), sent func(), lists ...[]ovsdb.Operation) (txnResults, error) {
	hook := func(raw json.RawMessage) (any, error) {
		res, err := decodeTxnResults(raw)
		if err != nil {
			return nil, err
		}
		if then != nil {
			then(res)
		}
		return res, nil
	}
	_, val, err := t.call(ctx, "transact", func(b []byte) ([]byte, error) {
		b = append(b, '[')
		b = appendString(b, t.db)
		for _, ops := range lists {
			for i := range ops {
				b = append(b, ',')
				var err error
				if b, err = appendOp(b, &ops[i]); err != nil {
					return b, fmt.Errorf("operation %d (%s %s): %w", i, ops[i].Op, ops[i].Table, err)
				}
				if b, err = t.spill(b); err != nil {
					return b, err
				}
			}
		}
		return append(b, ']'), nil
	}, hook, sent)
	if err != nil {
		return txnResults{}, err
	}
	res, _ := val.(txnResults)
	return res, nil
}

// Echo sends an echo request and waits for its reply.
func (t *txnConn) Echo(ctx context.Context) error {
	_, _, err := t.call(ctx, "echo", func(b []byte) ([]byte, error) { return append(b, `["l2gw"]`...), nil }, nil, nil)
	return err
}

// Close closes the connection and waits for its reader to exit.
func (t *txnConn) Close() {
	t.mu.Lock()
	if t.err == nil {
		t.err = errTxnClosed
	}
	t.mu.Unlock()
	t.conn.Close()
	<-t.done
}

// Done is closed once the connection has failed or been closed.
func (t *txnConn) Done() <-chan struct{} { return t.done }

// opResult is an operation's result as ovsdb-server sends it: the UUID of
// an insert as ["uuid", "…"]. Decoded into a plain array instead of
// ovsdb.UUID, whose UnmarshalJSON decodes each one on its own.
type opResult struct {
	Count   int         `json:"count"`
	Error   string      `json:"error"`
	Details string      `json:"details"`
	UUID    []string    `json:"uuid"`
	Rows    []ovsdb.Row `json:"rows"`
}

// txnResults are a transaction's results. When every operation succeeded
// with an insert's, a count or an empty result (a bulk transaction's),
// they are kept as each operation's inserted UUID ("" for the others) and
// the non-zero counts: 16 bytes a result instead of an
// ovsdb.OperationResult's 80, decoded after the agent's memory was
// returned (release.go). Otherwise all holds them whole.
type txnResults struct {
	uuids  []string
	counts map[int]int
	all    []ovsdb.OperationResult
}

// Len is the number of results.
func (r txnResults) Len() int {
	if r.all != nil {
		return len(r.all)
	}
	return len(r.uuids)
}

// UUID is the row result i inserted, "" for none.
func (r txnResults) UUID(i int) string {
	if r.all != nil {
		return r.all[i].UUID.GoUUID
	}
	return r.uuids[i]
}

// Error is result i's error, "" for none.
func (r txnResults) Error(i int) string {
	if r.all != nil {
		return r.all[i].Error
	}
	return ""
}

// From drops the first i results.
func (r txnResults) From(i int) txnResults {
	if i == 0 {
		return r
	}
	if r.all != nil {
		return txnResults{all: r.all[i:]}
	}
	counts := map[int]int{}
	for j, c := range r.counts {
		if j >= i {
			counts[j-i] = c
		}
	}
	return txnResults{uuids: r.uuids[i:], counts: counts}
}

// All returns the results whole.
func (r txnResults) All() []ovsdb.OperationResult {
	if r.all != nil || r.uuids == nil {
		return r.all
	}
	out := make([]ovsdb.OperationResult, len(r.uuids))
	for i, u := range r.uuids {
		out[i].UUID.GoUUID = u
		out[i].Count = r.counts[i]
	}
	return out
}

func decodeTxnResults(raw json.RawMessage) (txnResults, error) {
	if r, ok := decodeInsertResults(raw); ok {
		return r, nil
	}
	all, err := decodeResultsJSON(raw)
	if all == nil {
		all = []ovsdb.OperationResult{}
	}
	return txnResults{all: all}, err
}

// decodeResultsJSON decodes any transaction's results.
func decodeResultsJSON(raw json.RawMessage) ([]ovsdb.OperationResult, error) {
	var rs []*opResult // null: the result of a transaction's "null" entries
	if err := json.Unmarshal(raw, &rs); err != nil {
		return nil, fmt.Errorf("transact result: %w", err)
	}
	out := make([]ovsdb.OperationResult, len(rs))
	for i, r := range rs {
		if r == nil {
			continue
		}
		out[i] = ovsdb.OperationResult{Count: r.Count, Error: r.Error, Details: r.Details, Rows: r.Rows}
		if len(r.UUID) == 2 {
			out[i].UUID.GoUUID = r.UUID[1]
		}
	}
	return out, nil
}

// decodeInsertResults decodes the results of a transaction whose every
// result is an insert's ({"uuid":["uuid","…"]}), a count ({"count":N}) or
// empty ({}), as ovsdb-server writes them (no spaces): a bulk
// transaction's. ok is false for anything else (an error, rows, other
// spacing), which json decodes. Per result, only the UUID's string is
// allocated: a 10,000-row reply was ~3 MB of garbage through json, made
// while the agent's memory had just been returned (release.go).
func decodeInsertResults(raw []byte) (txnResults, bool) {
	const uuidPrefix, uuidLen = `{"uuid":["uuid","`, 36
	if len(raw) < 2 || raw[0] != '[' || raw[len(raw)-1] != ']' {
		return txnResults{}, false
	}
	body := raw[1 : len(raw)-1]
	r := txnResults{uuids: make([]string, 0, bytes.Count(body, []byte("},{"))+1)}
	for len(body) > 0 {
		u := ""
		switch {
		case bytes.HasPrefix(body, []byte(uuidPrefix)):
			rest := body[len(uuidPrefix):]
			if len(rest) < uuidLen+3 || string(rest[uuidLen:uuidLen+3]) != `"]}` {
				return txnResults{}, false
			}
			if u = string(rest[:uuidLen]); !isUUID(u) {
				return txnResults{}, false
			}
			body = rest[uuidLen+3:]
		case bytes.HasPrefix(body, []byte("{}")):
			body = body[2:]
		case bytes.HasPrefix(body, []byte(`{"count":`)):
			rest := body[len(`{"count":`):]
			i := 0
			for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
				i++
			}
			if i == 0 || i > 9 || i >= len(rest) || rest[i] != '}' {
				return txnResults{}, false
			}
			n, err := strconv.Atoi(string(rest[:i]))
			if err != nil {
				return txnResults{}, false
			}
			if n != 0 {
				if r.counts == nil {
					r.counts = map[int]int{}
				}
				r.counts[len(r.uuids)] = n
			}
			body = rest[i+1:]
		default:
			return txnResults{}, false
		}
		r.uuids = append(r.uuids, u)
		if len(body) > 0 {
			if body[0] != ',' || len(body) == 1 {
				return txnResults{}, false
			}
			body = body[1:]
		}
	}
	return r, true
}
