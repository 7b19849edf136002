// Package latency is a small TCP proxy that adds a fixed one-way delay to
// everything it forwards and can be cut and restored. `make run-regions`
// puts one in front of each region's internal address so three regions on
// one machine see realistic round trips; tests use it to take a database or
// Redis away from one server without stopping the shared one.
package latency

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Proxy forwards connections from its listener to a target address.
type Proxy struct {
	target string
	ln     net.Listener
	delay  atomic.Int64 // one-way delay in nanoseconds
	down   atomic.Bool

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// Start listens on listenAddr ("127.0.0.1:0" for any free port) and
// forwards to target with the given one-way delay.
func Start(listenAddr, target string, delay time.Duration) (*Proxy, error) {
	ln, err := net.Listen("tcp", listenAddr)
	if err != nil {
		return nil, err
	}
	p := &Proxy{target: target, ln: ln, conns: map[net.Conn]struct{}{}}
	p.delay.Store(int64(delay))
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's listening address.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetDelay changes the one-way delay for data forwarded from now on.
func (p *Proxy) SetDelay(d time.Duration) { p.delay.Store(int64(d)) }

// Cut closes every open connection and refuses new ones (they are accepted
// and closed at once), as if the target had died.
func (p *Proxy) Cut() {
	p.down.Store(true)
	p.mu.Lock()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
}

// Restore lets connections through again.
func (p *Proxy) Restore() { p.down.Store(false) }

// Close stops the proxy and every connection through it.
func (p *Proxy) Close() error {
	err := p.ln.Close()
	p.Cut()
	p.wg.Wait()
	return err
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.down.Load() {
			_ = c.Close()
			continue
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

func (p *Proxy) track(c net.Conn, add bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if add {
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
}

// hold tracks c, so that Cut and Close reach it, and returns what stops
// tracking it and closes it.
func (p *Proxy) hold(c net.Conn) (release func()) {
	p.track(c, true)
	return func() {
		p.track(c, false)
		_ = c.Close()
	}
}

func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	// Each connection is tracked before anything waits on it, then the
	// proxy's state is read again: a Cut (or Close) that ran while this
	// connection was being accepted or dialled found it untracked and did
	// not close it, and Close would wait for it for ever.
	defer p.hold(client)()
	if p.down.Load() {
		return
	}
	dialer := net.Dialer{Timeout: 5 * time.Second}
	server, err := dialer.DialContext(context.Background(), "tcp", p.target)
	if err != nil {
		return
	}
	defer p.hold(server)()
	if p.down.Load() {
		return
	}
	done := make(chan struct{}, 2)
	go func() { p.pipe(server, client); done <- struct{}{} }()
	go func() { p.pipe(client, server); done <- struct{}{} }()
	<-done
}

type chunk struct {
	due  time.Time
	data []byte
}

// pipe copies src to dst, holding each chunk back until its delay is due;
// order is kept and the delay does not limit throughput.
func (p *Proxy) pipe(dst, src net.Conn) {
	queue := make(chan chunk, 1024)
	go func() {
		defer close(queue)
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				queue <- chunk{due: time.Now().Add(time.Duration(p.delay.Load())), data: append([]byte(nil), buf[:n]...)}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range queue {
		if d := time.Until(c.due); d > 0 {
			time.Sleep(d)
		}
		if _, err := dst.Write(c.data); err != nil {
			break
		}
	}
	_ = dst.Close()
	_ = src.Close()
	for range queue { // drain so the reader can finish
	}
}
