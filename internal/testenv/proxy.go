package testenv

import (
	"net"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
)

// Proxy forwards TCP connections from a loopback port to a target (a unix
// socket or a TCP address), and can cut them the way a network partition
// does: bytes stop flowing both ways while every connection stays open
// (nothing is reset, as when packets are dropped), and new connections are
// accepted but get nothing through. Heal lets the held bytes go on.
type Proxy struct {
	ln              net.Listener
	network, target string

	mu     sync.Mutex
	open   chan struct{} // closed while bytes may flow
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// StartProxy starts a proxy to target on network ("unix" or "tcp"); it
// stops at the test's cleanup.
func StartProxy(t testing.TB, network, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, network: network, target: target, open: make(chan struct{}), conns: make(map[net.Conn]struct{})}
	close(p.open)
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cut stops every byte, on open connections and new ones alike.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
		p.open = make(chan struct{})
	default:
	}
}

// Heal lets bytes flow again.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.open:
	default:
		close(p.open)
	}
}

func (p *Proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.Heal() // unblocks the pipes, which then fail on their closed ends
	p.wg.Wait()
}

// track records c to be closed at the end; false when that came already.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			return
		}
		p.wg.Go(func() {
			// Like a SYN dropped: the target hears of a connection only
			// once the link is up.
			if !p.wait() {
				return
			}
			up, err := net.Dial(p.network, p.target)
			if err != nil {
				c.Close()
				return
			}
			if !p.track(up) {
				c.Close()
				return
			}
			p.wg.Go(func() { p.pipe(up, c) })
			p.pipe(c, up)
		})
	}
}

// wait blocks while the link is cut; false once the proxy is closed.
func (p *Proxy) wait() bool {
	p.mu.Lock()
	open, closed := p.open, p.closed
	p.mu.Unlock()
	if closed {
		return false
	}
	<-open
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.closed
}

// pipe copies from src to dst, holding each chunk while the link is cut.
func (p *Proxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.wait() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF or a closed end: the deferred closes end the other way too
		}
	}
}

// ProxiedPostgres returns dsn (a database of testenv's PostgreSQL, on its
// unix socket) reached through a Proxy the test can cut.
func ProxiedPostgres(t testing.TB, dsn string) (string, *Proxy) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	port := q.Get("port")
	if port == "" {
		port = "5432"
	}
	p := StartProxy(t, "unix", filepath.Join(q.Get("host"), ".s.PGSQL."+port))
	q.Del("host")
	q.Del("port")
	u.Host = p.Addr()
	u.RawQuery = q.Encode()
	return u.String(), p
}
