package pgtest

import (
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
)

// Outage sits between a test's store and PostgreSQL, forwarding every
// connection, until Cut simulates the database going away.
type Outage struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	cut   bool
}

// URLWithOutage returns URL(t) routed through a forwarder on a loopback
// port, and the forwarder: Cut closes it and every connection through it,
// so that the store sees refused and broken connections. The forwarder is
// cut when the test ends.
func URLWithOutage(t testing.TB) (string, *Outage) {
	t.Helper()
	u, err := url.Parse(URL(t))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &Outage{ln: ln}
	go o.forward(u.Host)
	t.Cleanup(o.Cut)
	u.Host = ln.Addr().String()
	return u.String(), o
}

func (o *Outage) forward(target string) {
	for {
		c, err := o.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", target)
		if err != nil {
			c.Close()
			continue
		}
		o.mu.Lock()
		if o.cut {
			// Accepted just before Cut, connected just after: it must not
			// outlive the outage.
			o.mu.Unlock()
			c.Close()
			up.Close()
			continue
		}
		o.conns = append(o.conns, c, up)
		o.mu.Unlock()
		go func() { _, _ = io.Copy(up, c); up.Close() }()
		go func() { _, _ = io.Copy(c, up); c.Close() }()
	}
}

// Cut stops forwarding: new connections are refused and open ones broken.
func (o *Outage) Cut() {
	o.ln.Close()
	o.mu.Lock()
	defer o.mu.Unlock()
	o.cut = true
	for _, c := range o.conns {
		c.Close()
	}
	o.conns = nil
}
