package breach

import (
	"container/list"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// offlineLRUSize is how many parsed ranges Offline keeps, about 60 KB each.
const offlineLRUSize = 256

// Offline is a Checker over a local copy of the corpus for air-gapped
// sites: a directory with one file per prefix, named like 21BD1.txt and
// holding SUFFIX:COUNT lines, which is the layout the official
// PwnedPasswordsDownloader writes when not asked for a single file. It
// reads a file when a prefix is first asked for and keeps the most
// recently used ranges in memory. It is safe for concurrent use.
type Offline struct {
	root   *os.Root
	flight flight

	mu    sync.Mutex
	order *list.List               // of *offlineItem, most recent first
	items map[string]*list.Element // by prefix
}

// offlineItem is one cached range.
type offlineItem struct {
	prefix string
	set    rangeSet
}

// NewOffline returns an Offline over dir. It fails when dir is not a
// readable directory; it does not check that all 1,048,576 files exist, so
// a missing one is reported (as unavailable) when its prefix is asked for.
func NewOffline(dir string) (*Offline, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("breach: offline corpus: %w", err)
	}
	return &Offline{root: root, order: list.New(), items: make(map[string]*list.Element)}, nil
}

// Close releases the directory.
func (o *Offline) Close() error {
	if err := o.root.Close(); err != nil {
		return fmt.Errorf("breach: offline corpus: %w", err)
	}
	return nil
}

// Breached implements Checker. Errors are *errs.Error of KindUnavailable
// with code CodeUnavailable.
func (o *Offline) Breached(ctx context.Context, password string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, unavailable(err)
	}
	prefix, suffix := split(password)
	if set, ok := o.cached(prefix); ok {
		return set.count(suffix), nil
	}
	set, err := o.flight.do(ctx, prefix, func(context.Context) (rangeSet, error) {
		set, err := o.read(prefix)
		if err == nil {
			o.store(prefix, set)
		}
		return set, err
	})
	if err != nil {
		return 0, unavailable(err)
	}
	return set.count(suffix), nil
}

// read loads and parses prefix's file.
func (o *Offline) read(prefix string) (rangeSet, error) {
	name := prefix + ".txt"
	f, err := o.root.Open(name)
	if err != nil {
		return nil, fmt.Errorf("breach: offline corpus: %w", err)
	}
	defer f.Close()
	body, err := io.ReadAll(io.LimitReader(f, maxRangeBytes+1))
	if err != nil {
		return nil, fmt.Errorf("breach: offline corpus: reading %s: %w", filepath.Base(name), err)
	}
	set, err := parseRange(body)
	if err != nil {
		return nil, fmt.Errorf("breach: offline corpus: %w", err)
	}
	return set, nil
}

// cached returns prefix's range if it is in memory.
func (o *Offline) cached(prefix string) (rangeSet, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	el, ok := o.items[prefix]
	if !ok {
		return nil, false
	}
	o.order.MoveToFront(el)
	return el.Value.(*offlineItem).set, true
}

// store keeps prefix's range, evicting the least recently used.
func (o *Offline) store(prefix string, set rangeSet) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if el, ok := o.items[prefix]; ok {
		o.order.MoveToFront(el)
		return
	}
	o.items[prefix] = o.order.PushFront(&offlineItem{prefix: prefix, set: set})
	for o.order.Len() > offlineLRUSize {
		last := o.order.Back()
		o.order.Remove(last)
		delete(o.items, last.Value.(*offlineItem).prefix)
	}
}
