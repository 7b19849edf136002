package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gatehouse-id/gatehouse/app/store/storetest"
)

// benchDatabase is the throw-away PostgreSQL database of one run.
type benchDatabase struct {
	adminURL string
	// url is the connection string of the new database.
	url    string
	dropFn func(context.Context) error
}

// createDatabase creates an empty database named gatehouse_bench_<random>
// on the server of adminURL.
func createDatabase(ctx context.Context, adminURL string) (*benchDatabase, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	u, drop, err := storetest.Create(ctx, adminURL, "gatehouse_bench_")
	if err != nil {
		return nil, err
	}
	return &benchDatabase{adminURL: adminURL, url: u, dropFn: drop}, nil
}

// drop removes the database, closing any connection still open to it.
func (d *benchDatabase) drop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return d.dropFn(ctx)
}

// serverSetup is what starting a server under test needs.
type serverSetup struct {
	// root is the repository root, the working directory of every command.
	root string
	// bin is the gatehouse binary, relative to root or absolute.
	bin string
	// env is the GATEHOUSE_* environment of every command.
	env map[string]string
}

// with is a copy of the setup whose environment is overlaid by overrides
// (the base setup's environment is left as it is).
func (s serverSetup) with(overrides map[string]string) serverSetup {
	env := maps.Clone(s.env)
	maps.Copy(env, overrides)
	s.env = env
	return s
}

// serverProcess is a running `gatehouse serve`.
type serverProcess struct {
	cmd    *exec.Cmd
	output *tailBuffer
	exited chan struct{}
	// waitErr is the process's exit status, set before exited is closed.
	waitErr error
}

// prepareAndServe runs `gatehouse migrate` and `gatehouse keys init`, then
// starts `gatehouse serve` and waits until client says it is ready.
func prepareAndServe(ctx context.Context, setup serverSetup, client *apiClient) (*serverProcess, error) {
	for _, args := range [][]string{{"migrate"}, {"keys", "init"}} {
		if err := runOnce(ctx, setup, args...); err != nil {
			return nil, err
		}
	}
	output := newTailBuffer(64 << 10)
	cmd := exec.Command(setup.binPath(), "serve")
	cmd.Dir = setup.root
	cmd.Env = setup.environ()
	cmd.Stdout, cmd.Stderr = output, output
	dieWithParent(cmd)
	s := &serverProcess{cmd: cmd, output: output, exited: make(chan struct{})}
	startErr := make(chan error, 1)
	go func() {
		// The parent-death signal follows the OS thread that started the
		// child, not the process: keep that thread to this goroutine until
		// the server exits, so that the Go runtime can never end it early.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			startErr <- err
			return
		}
		startErr <- nil
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	if err := <-startErr; err != nil {
		return nil, fmt.Errorf("start gatehouse serve: %w", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := client.ready(ctx)
		if err == nil {
			return s, nil
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("gatehouse serve exited at start (%v); its output:\n%s", s.waitErr, output.String())
		case <-ctx.Done():
			_ = s.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = s.stop()
			return nil, fmt.Errorf("gatehouse serve not ready after 30s (last: %v); its output:\n%s", err, output.String())
		}
	}
}

// stop sends SIGTERM, waits up to 30 s for a clean exit, then kills.
func (s *serverProcess) stop() error {
	select {
	case <-s.exited:
		return fmt.Errorf("gatehouse serve had already exited (%v); its output:\n%s", s.waitErr, s.output.String())
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("signal gatehouse serve: %w", err)
	}
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
		return fmt.Errorf("gatehouse serve did not stop within 30s of SIGTERM; killed")
	}
	if s.waitErr != nil {
		return fmt.Errorf("gatehouse serve exited with %v; its output:\n%s", s.waitErr, s.output.String())
	}
	return nil
}

// runOnce runs one gatehouse command to completion (at most 5 minutes).
func runOnce(ctx context.Context, setup serverSetup, args ...string) error {
	_, err := runCapture(ctx, setup, args...)
	return err
}

// runCapture runs one gatehouse command to completion (at most 5 minutes)
// and returns what it printed on stdout.
func runCapture(ctx context.Context, setup serverSetup, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, setup.binPath(), args...)
	cmd.Dir = setup.root
	cmd.Env = setup.environ()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("gatehouse %s: %w; its output:\n%s%s", strings.Join(args, " "), err, stdout.Bytes(), stderr.Bytes())
	}
	slog.Debug("ran gatehouse", "args", args)
	return stdout.String(), nil
}

// version is the first line of `gatehouse version`, or why it failed.
func (s serverSetup) version(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.binPath(), "version")
	cmd.Dir = s.root
	cmd.Env = s.environ()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

// binPath is the binary's absolute path.
func (s serverSetup) binPath() string {
	p := s.bin
	if !filepath.IsAbs(p) {
		p = filepath.Join(s.root, p)
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// environ is this process's environment without any GATEHOUSE_* or
// VAULT_* variable, plus the setup's.
func (s serverSetup) environ() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GATEHOUSE_") || strings.HasPrefix(kv, "VAULT_") {
			continue
		}
		out = append(out, kv)
	}
	for k, v := range s.env {
		out = append(out, k+"="+v)
	}
	return out
}

// freeLoopbackPort returns a TCP port on 127.0.0.1 that was free a moment
// ago.
func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// checkLoopback refuses a URL whose host is not this machine, so that the
// harness never sends traffic elsewhere.
func checkLoopback(name, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("-%s: %w", name, err)
	}
	switch u.Hostname() {
	case "127.0.0.1", "localhost", "::1":
		return nil
	}
	return fmt.Errorf("-%s: host %q is not 127.0.0.1; the benchmark only talks to this machine", name, u.Hostname())
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on a supported platform
	}
	return hex.EncodeToString(b)
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable url)"
	}
	return u.Redacted()
}

// tailBuffer keeps the last limit bytes written to it.
type tailBuffer struct {
	mu    sync.Mutex
	limit int
	buf   []byte
}

func newTailBuffer(limit int) *tailBuffer { return &tailBuffer{limit: limit} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.limit; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.buf) == 0 {
		return "(no output)"
	}
	return string(t.buf)
}

// errServerGone reports that the server died during the run.
const errServerGone = constError("gatehouse serve exited during the run")

// alive returns errServerGone (with the server's output) if the server has
// exited.
func (s *serverProcess) alive() error {
	select {
	case <-s.exited:
		return fmt.Errorf("%w (%v); its output:\n%s", errServerGone, s.waitErr, s.output.String())
	default:
		return nil
	}
}
