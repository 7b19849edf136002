package ratelimit

import (
	"hash/maphash"
	"sync"
	"time"
)

// memShards spreads the in-process fallback over several locks so that a
// busy server does not serialise on one mutex while Redis is away.
const memShards = 16

// maxSetMembers bounds one in-process distinct-count set; beyond it new
// members are counted but not remembered (the count can only over-report,
// which errs on the side of protection).
const maxSetMembers = 4096

// entry is one key of the in-process fallback. Only the fields of its kind
// are used; exp is zero for keys without expiry.
type entry struct {
	exp      time.Time
	tat      float64             // GCRA theoretical arrival time, seconds since gcraEpoch
	hash     map[string]int64    // hashes (failure lanes, statistics)
	set      map[string]struct{} // distinct counts (HyperLogLog stand-in)
	overflow int64               // members counted beyond maxSetMembers
	str      string
	dirty    bool // written while Redis was away (failure lanes carry over)
}

type shard struct {
	mu sync.Mutex
	m  map[string]*entry
}

// memory is the in-process equivalent of the Redis keys the Store uses. It
// is bounded: past maxKeys, expired keys are swept and then arbitrary ones
// dropped, which loosens protection for the dropped keys but never grows
// without bound under an attack from many addresses.
type memory struct {
	seed     maphash.Seed
	perShard int
	shards   [memShards]shard
}

func newMemory(maxKeys int) *memory {
	m := &memory{seed: maphash.MakeSeed(), perShard: max(1, maxKeys/memShards)}
	for i := range m.shards {
		m.shards[i].m = make(map[string]*entry)
	}
	return m
}

// lock returns the key's shard, locked; the caller unlocks it.
func (m *memory) lock(key string) *shard {
	sh := &m.shards[maphash.String(m.seed, key)%memShards]
	sh.mu.Lock()
	return sh
}

// get returns the live entry for key, or nil. The shard must be locked.
func (sh *shard) get(key string, now time.Time) *entry {
	e := sh.m[key]
	if e == nil {
		return nil
	}
	if !e.exp.IsZero() && !now.Before(e.exp) {
		delete(sh.m, key)
		return nil
	}
	return e
}

// make returns the live entry for key, creating it when absent. The shard
// must be locked.
func (sh *shard) make(key string, now time.Time, limit int) *entry {
	if e := sh.get(key, now); e != nil {
		return e
	}
	if len(sh.m) >= limit {
		sh.evict(now, limit)
	}
	e := &entry{}
	sh.m[key] = e
	return e
}

// evict sweeps expired keys, then drops arbitrary ones until an eighth of
// the shard is free.
func (sh *shard) evict(now time.Time, limit int) {
	for k, e := range sh.m {
		if !e.exp.IsZero() && !now.Before(e.exp) {
			delete(sh.m, k)
		}
	}
	target := limit - limit/8
	for k := range sh.m {
		if len(sh.m) < target {
			break
		}
		delete(sh.m, k)
	}
}

// expireNX sets the expiry of e when it has none (Redis EXPIRE … NX).
func (e *entry) expireNX(now time.Time, ttl time.Duration) {
	if ttl > 0 && e.exp.IsZero() {
		e.exp = now.Add(ttl)
	}
}

// len is the size of the entry's distinct set.
func (e *entry) distinct() int64 { return int64(len(e.set)) + e.overflow }

// add puts member in the entry's distinct set.
func (e *entry) add(member string) {
	if e.set == nil {
		e.set = make(map[string]struct{})
	}
	if _, ok := e.set[member]; ok {
		return
	}
	if len(e.set) >= maxSetMembers {
		e.overflow++
		return
	}
	e.set[member] = struct{}{}
}

// keys counts the keys held, for tests.
func (m *memory) keys() int {
	n := 0
	for i := range m.shards {
		m.shards[i].mu.Lock()
		n += len(m.shards[i].m)
		m.shards[i].mu.Unlock()
	}
	return n
}
