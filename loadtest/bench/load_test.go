package main

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"
)

// TestRunLoadRate checks the window arithmetic on operations of known
// duration: fast ones, and slow ones that need the window extended.
func TestRunLoadRate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		workers int
		op      time.Duration
		window  time.Duration
	}{
		{"fast", 4, 5 * time.Millisecond, 500 * time.Millisecond},
		{"slow, window shorter than one operation", 2, 300 * time.Millisecond, 100 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := runLoad(context.Background(), loadSpec{
				name: tc.name, workers: tc.workers, warmup: 50 * time.Millisecond, window: tc.window, maxOps: 1 << 20,
				op: func(context.Context, int) error { time.Sleep(tc.op); return nil },
			})
			if err != nil {
				t.Fatal(err)
			}
			// The rate is the operations completed inside the measured
			// window divided by its length; the window is never shorter
			// than asked, and is stretched until every worker has
			// completed one operation. (No assertion on the sleep-based
			// rate itself: on a loaded machine sleeps overshoot.)
			if res.window < tc.window {
				t.Errorf("window %v shorter than the %v asked for", res.window, tc.window)
			}
			if res.ok < int64(tc.workers) {
				t.Errorf("only %d operations counted with %d workers", res.ok, tc.workers)
			}
			if got, want := res.perSecond(), float64(res.ok)/res.window.Seconds(); math.Abs(got-want) > 1e-9*want {
				t.Errorf("perSecond = %v, want ok/window = %v", got, want)
			}
			if most := float64(tc.workers) / tc.op.Seconds() * 1.05; res.perSecond() > most {
				t.Errorf("perSecond = %.1f is above what %d workers sleeping %v can do (%.1f)", res.perSecond(), tc.workers, tc.op, most)
			}
		})
	}
}

// TestRunLoadStops checks the operation bound, the failure count and a
// worker stopping.
func TestRunLoadStops(t *testing.T) {
	res, err := runLoad(context.Background(), loadSpec{
		name: "bounded", workers: 2, warmup: 0, window: time.Minute, maxOps: 50,
		op: func(_ context.Context, w int) error {
			time.Sleep(time.Millisecond)
			if w == 1 {
				return errors.New("boom")
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.window > 10*time.Second || res.ok+res.failed > 50 || res.failed == 0 || res.failures["boom"] != res.failed {
		t.Errorf("got %+v", res)
	}
	_, err = runLoad(context.Background(), loadSpec{
		name: "stopping", workers: 2, warmup: 0, window: time.Minute, maxOps: 1 << 20,
		op: func(context.Context, int) error { return errStopWorker },
	})
	if err == nil {
		t.Error("a load whose workers all stop reported success")
	}
}

func TestPlainNumber(t *testing.T) {
	for v, want := range map[float64]string{12345.6: "12346", 2400: "2400", 0.98765: "0.9877", 15.04: "15.04", 1.5: "1.500"} {
		if got := plainNumber(v); got != want {
			t.Errorf("plainNumber(%v) = %q; want %q", v, got, want)
		}
	}
}
