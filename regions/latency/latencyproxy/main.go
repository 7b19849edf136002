// Command latencyproxy runs latency proxies for `make run-regions`: each
// -route LISTEN=TARGET forwards TCP with the given one-way -delay, so three
// regions on one machine see realistic inter-region round trips.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gatehouse-id/gatehouse/regions/latency"
)

type routes []string

func (r *routes) String() string     { return strings.Join(*r, ",") }
func (r *routes) Set(v string) error { *r = append(*r, v); return nil }

func main() {
	var rs routes
	delay := flag.Duration("delay", 70*time.Millisecond, "one-way delay added in each direction")
	flag.Var(&rs, "route", "LISTEN=TARGET, e.g. 127.0.0.1:9081=127.0.0.1:8081 (repeatable)")
	flag.Parse()
	if err := run(rs, *delay); err != nil {
		fmt.Fprintln(os.Stderr, "latencyproxy:", err)
		os.Exit(1)
	}
}

func run(rs routes, delay time.Duration) error {
	if len(rs) == 0 {
		return fmt.Errorf("no -route given")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for _, r := range rs {
		listen, target, ok := strings.Cut(r, "=")
		if !ok {
			return fmt.Errorf("route %q: want LISTEN=TARGET", r)
		}
		p, err := latency.Start(listen, target, delay)
		if err != nil {
			return fmt.Errorf("route %q: %w", r, err)
		}
		defer p.Close()
		fmt.Fprintf(os.Stderr, "latencyproxy: %s -> %s (+%v each way)\n", p.Addr(), target, delay)
	}
	<-ctx.Done()
	return nil
}
