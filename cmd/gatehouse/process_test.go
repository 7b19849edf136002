package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// gatehouseBinary builds the real binary once per test run.
func gatehouseBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gatehouse-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "gatehouse")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// process is `gatehouse serve` running as a child process.
type process struct {
	cmd  *exec.Cmd
	URL  string
	logs *logWatcher
	done chan error
}

func startProcess(t *testing.T, env map[string]string) *process {
	t.Helper()
	cmd := exec.Command(gatehouseBinary(t), "serve")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, "PATH="+os.Getenv("PATH"))
	w := newLogWatcher()
	cmd.Stderr = w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, logs: w, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		p.done <- nil
	})
	select {
	case addr := <-w.listening:
		p.URL = "http://" + addr
	case err := <-p.done:
		t.Fatalf("gatehouse exited at start: %v\n%s", err, w.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("gatehouse did not start\n%s", w.String())
	}
	return p
}

// peakRSSKiB reads the process's high-water resident set size.
func peakRSSKiB(t *testing.T, pid int) int {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}

// SIGTERM while a slow request is in flight: the request completes and the
// process exits 0.
func TestSIGTERMLetsRequestsInFlightFinish(t *testing.T) {
	// A deliberately slow hash (128 MiB, 6 passes) makes the login take a
	// second or more.
	env := with(testEnv(t), "GATEHOUSE_ARGON2_MEMORY_KIB", "131072", "GATEHOUSE_ARGON2_ITERATIONS", "6")
	p := startProcess(t, env)

	type answer struct {
		status int
		body   map[string]any
		err    error
	}
	got := make(chan answer, 1)
	start := time.Now()
	go func() {
		resp, err := http.Post(p.URL+"/v1/login", "application/json", strings.NewReader(`{"email":"nobody@example.org","password":"some password"}`))
		if err != nil {
			got <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		got <- answer{status: resp.StatusCode, body: m}
	}()
	// Let the hash start, then ask the process to stop.
	time.Sleep(200 * time.Millisecond)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	a := <-got
	if a.err != nil {
		t.Fatalf("request in flight failed at shutdown: %v", a.err)
	}
	if a.status != 401 || a.body["error"] != "invalid_credentials" {
		t.Fatalf("request in flight: %d %v", a.status, a.body)
	}
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, p.logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("process did not exit after SIGTERM")
	}
	t.Logf("the login took %v; SIGTERM came 200ms into it", time.Since(start))
	if len(p.logs.lines(`"msg":"stopped"`)) != 1 {
		t.Fatalf("no clean stop in the log:\n%s", p.logs.String())
	}
}

// 200 concurrent logins at m=64 MiB: memory stays bounded (only as many
// hashes run as there are workers), the excess gets 503 overloaded with
// Retry-After, and nothing fails otherwise.
func TestConcurrentLoginsStayUnder1GiB(t *testing.T) {
	// 200 different clients, as they arrive through a load balancer: each
	// its own address, so the per-address limits stay out of the way and
	// the hashing pool is what sheds the excess.
	env := with(testEnv(t), "GATEHOUSE_ARGON2_MEMORY_KIB", "65536", "GATEHOUSE_ARGON2_ITERATIONS", "3",
		"GATEHOUSE_TRUSTED_PROXIES", "127.0.0.1/32",
		// This test is about the hashing pool, so the region-wide limit
		// (which would answer most of this burst with a cheap 429) is
		// raised out of the way.
		"GATEHOUSE_DEFENSE_GLOBAL_PER_SECOND", "100000")
	p := startProcess(t, env)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 200, MaxConnsPerHost: 0}, Timeout: 60 * time.Second}

	const n = 200
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[string]int{}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`{"email":"user%d@example.org","password":"not the password %d"}`, i, i)
			req, _ := http.NewRequest("POST", p.URL+"/v1/login", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.%d.%d.1", i/250, i%250))
			resp, err := client.Do(req)
			key := ""
			if err != nil {
				key = "transport error: " + err.Error()
			} else {
				var m map[string]any
				_ = json.NewDecoder(resp.Body).Decode(&m)
				resp.Body.Close()
				key = fmt.Sprintf("%d %v", resp.StatusCode, m["error"])
				if resp.StatusCode == 503 && resp.Header.Get("Retry-After") == "" {
					key += " without Retry-After"
				}
			}
			mu.Lock()
			counts[key]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	rss := peakRSSKiB(t, p.cmd.Process.Pid)
	t.Logf("answers: %v; peak RSS %d MiB", counts, rss/1024)
	for k := range counts {
		if k != "401 invalid_credentials" && k != "503 overloaded" {
			t.Errorf("unexpected answer %q (%d times)", k, counts[k])
		}
	}
	if counts["503 overloaded"] == 0 || counts["401 invalid_credentials"] == 0 {
		t.Errorf("want both served and shed logins, got %v", counts)
	}
	if rss >= 1024*1024 {
		t.Fatalf("peak RSS %d MiB, want under 1 GiB", rss/1024)
	}
}
