package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Policy is the escalation of one failure lane: every attempt is counted
// BEFORE the credential is checked (a reservation), so parallel attempts
// cannot overtake the count (ZITADEL CVE-2023-47111, Keycloak #31726).
type Policy struct {
	// ChallengeAfter: once this many failures are counted, each further
	// attempt needs a solved challenge. 0 turns challenges off.
	ChallengeAfter int
	// LockAfter: once this many failures are counted, the lane locks. 0
	// turns the lock off.
	LockAfter int
	// Window: counted failures are forgotten this long after the first of
	// them, unless a lock is remembered (see LockMemory).
	Window time.Duration
	// LockBase is the first lock's duration; each further lock within
	// LockMemory doubles it, up to LockMax.
	LockBase, LockMax time.Duration
	// LockMemory is how long after the last lock its level is remembered.
	// While it is, an expired lock leaves the lane one failure short of the
	// next, longer lock.
	LockMemory time.Duration
}

// Valid reports whether the policy can be enforced.
func (p Policy) Valid() bool {
	return p.ChallengeAfter >= 0 && p.LockAfter >= 0 && p.Window > 0 &&
		(p.LockAfter == 0 || (p.LockBase > 0 && p.LockMax >= p.LockBase && p.LockMemory >= 0))
}

// ttl is how long a lane's key must live for the policy to hold.
func (p Policy) ttl() time.Duration { return p.Window + p.LockMax + p.LockMemory }

// Verdict is the answer of a reservation.
type Verdict int

// Verdicts.
const (
	// Proceed: the attempt was counted and may check its credential.
	Proceed Verdict = iota
	// NeedChallenge: a solved challenge is required; nothing was counted.
	NeedChallenge
	// Locked: the lane is locked; nothing was counted.
	Locked
)

// Reservation is what became of an attempt on a lane.
type Reservation struct {
	Verdict Verdict
	// Failures is the lane's count after this attempt (including it when it
	// proceeds).
	Failures int
	// RetryAfter is how long the lock lasts (Locked only).
	RetryAfter time.Duration
	// Level is how many locks the lane remembers.
	Level int
	// JustLocked is true for the attempt that engaged the lock.
	JustLocked bool
	// Shared is false when the answer came from the in-process fallback.
	Shared bool
}

// LaneFields are the hash fields of a lane inside its key, in the order
// View expects: failures, window start, locked until, level, last lock
// (times in Unix milliseconds).
func LaneFields(lane string) []string {
	return []string{lane + "f", lane + "ws", lane + "lu", lane + "lv", lane + "ll"}
}

// LaneState is a lane seen at one instant.
type LaneState struct {
	Failures  int
	LockedFor time.Duration // > 0 while locked
	Level     int
}

// View interprets a lane's fields (as read with HGet(key,
// LaneFields(lane)...)) at now, the way the next reservation would.
func (p Policy) View(fields []int64, now time.Time) LaneState {
	var v [5]int64
	copy(v[:], fields)
	l := lane{f: v[0], ws: v[1], lu: v[2], lv: v[3], ll: v[4]}
	l.settle(now.UnixMilli(), p)
	st := LaneState{Failures: int(l.f), Level: int(l.lv)}
	if l.lu > now.UnixMilli() {
		st.LockedFor = time.Duration(l.lu-now.UnixMilli()) * time.Millisecond
	}
	return st
}

// lane is the in-process form of a lane, and the reference semantics of
// reserveScript.
type lane struct{ f, ws, lu, lv, ll int64 }

// settle forgets what the policy says is forgotten at now (ms).
func (l *lane) settle(now int64, p Policy) {
	if l.lv > 0 && now-l.ll >= p.LockMemory.Milliseconds() {
		l.lv, l.ll = 0, 0
	}
	if l.lv == 0 && now-l.ws >= p.Window.Milliseconds() {
		l.f = 0
	}
	if l.f == 0 {
		l.ws = now
	}
}

// reserve applies one attempt at now (ms).
func (l *lane) reserve(now int64, p Policy, solved bool) (Verdict, int64, bool) {
	l.settle(now, p)
	if l.lu > now {
		return Locked, l.lu - now, false
	}
	if p.LockAfter > 0 && l.f >= int64(p.LockAfter) {
		d := p.LockMax.Milliseconds()
		if l.lv < 40 {
			d = min(p.LockBase.Milliseconds()<<l.lv, d)
		}
		l.lv++
		l.ll, l.lu, l.ws = now, now+d, now
		l.f = int64(p.LockAfter) - 1
		return Locked, d, true
	}
	if p.ChallengeAfter > 0 && l.f >= int64(p.ChallengeAfter) && !solved {
		return NeedChallenge, 0, false
	}
	l.f++
	return Proceed, 0, false
}

// reserveScript is lane.reserve in Lua, atomic on one key. ARGV: lane,
// now, window, challenge_after, lock_after, lock_base, lock_max, memory,
// solved, ttl (ms), then the carried-over lane fields (f, lu, lv, ll) from
// the in-process fallback.
var reserveScript = redis.NewScript(`
local key, p = KEYS[1], ARGV[1]
local now, window = tonumber(ARGV[2]), tonumber(ARGV[3])
local challenge_at, lock_at = tonumber(ARGV[4]), tonumber(ARGV[5])
local lock_base, lock_max, memory = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local solved, ttl = ARGV[9] == '1', tonumber(ARGV[10])
local cf, clu, clv, cll = tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13]), tonumber(ARGV[14])
local v = redis.call('HMGET', key, p..'f', p..'ws', p..'lu', p..'lv', p..'ll')
local f, ws = tonumber(v[1]) or 0, tonumber(v[2]) or now
local lu, lv, ll = tonumber(v[3]) or 0, tonumber(v[4]) or 0, tonumber(v[5]) or 0
local dirty = cf > 0 or clu > 0 or clv > 0
f = f + cf
if clu > lu then lu = clu end
if clv > lv then lv = clv end
if cll > ll then ll = cll end
if lv > 0 and now - ll >= memory then lv = 0; ll = 0 end
if lv == 0 and now - ws >= window then f = 0 end
if f == 0 then ws = now end
local function save()
  redis.call('HSET', key, p..'f', f, p..'ws', ws, p..'lu', lu, p..'lv', lv, p..'ll', ll)
  redis.call('PEXPIRE', key, ttl)
end
if lu > now then
  if dirty then save() end
  return {2, f, lu - now, lv, 0}
end
if lock_at > 0 and f >= lock_at then
  local d = lock_max
  if lv < 40 then d = math.min(lock_base * (2 ^ lv), lock_max) end
  lv = lv + 1; ll = now; lu = now + d; ws = now; f = lock_at - 1
  save()
  return {2, f, d, lv, 1}
end
if challenge_at > 0 and f >= challenge_at and not solved then
  if dirty then save() end
  return {1, f, 0, lv, 0}
end
f = f + 1
save()
return {0, f, 0, lv, 0}
`)

// releaseScript takes back one reservation.
var releaseScript = redis.NewScript(`
local fld = ARGV[1] .. 'f'
local f = tonumber(redis.call('HGET', KEYS[1], fld)) or 0
if f > 0 then redis.call('HINCRBY', KEYS[1], fld, -1) end
return 0
`)

// Reserve counts one attempt on lane of key (a hash holding one or more
// lanes, e.g. "u" and "t" for unknown and trusted devices) under p, unless
// the lane is locked or needs a challenge the attempt has not solved. It is
// atomic: N parallel attempts against LockAfter = k yield exactly k
// Proceed verdicts before the lock.
func (s *Store) Reserve(ctx context.Context, key, laneName string, p Policy, solved bool) (Reservation, error) {
	if !p.Valid() {
		return Reservation{}, fmt.Errorf("ratelimit: invalid policy for %q", key)
	}
	now := s.now().UnixMilli()
	if s.useRedis() {
		carry, had := s.takeLane(key, laneName)
		sv := "0"
		if solved {
			sv = "1"
		}
		vals, err := reserveScript.Run(ctx, s.rdb, []string{key}, laneName, now, p.Window.Milliseconds(),
			p.ChallengeAfter, p.LockAfter, p.LockBase.Milliseconds(), p.LockMax.Milliseconds(),
			p.LockMemory.Milliseconds(), sv, p.ttl().Milliseconds(), carry.f, carry.lu, carry.lv, carry.ll).Int64Slice()
		if err == nil && len(vals) == 5 {
			s.succeeded(ctx)
			return Reservation{Verdict: Verdict(vals[0]), Failures: int(vals[1]),
				RetryAfter: time.Duration(vals[2]) * time.Millisecond, Level: int(vals[3]), JustLocked: vals[4] == 1, Shared: true}, nil
		}
		if had {
			s.restoreLane(key, laneName, carry)
		}
		if err == nil {
			err = fmt.Errorf("unexpected reply %v", vals)
		}
		if ferr := s.failed(ctx, "reserve", err); ferr != nil {
			return Reservation{}, ferr
		}
	}
	nowT := s.now()
	sh := s.mem.lock(key)
	defer sh.mu.Unlock()
	e := sh.make(key, nowT, s.mem.perShard)
	l := getLane(e, laneName)
	v, d, just := l.reserve(now, p, solved)
	putLane(e, laneName, l)
	e.dirty = true
	e.exp = nowT.Add(p.ttl())
	return Reservation{Verdict: v, Failures: int(l.f), RetryAfter: time.Duration(d) * time.Millisecond, Level: int(l.lv), JustLocked: just}, nil
}

// Release takes back one reservation on lane of key, for an attempt whose
// credential was never checked (e.g. the hashing pool was full).
func (s *Store) Release(ctx context.Context, key, laneName string) error {
	if s.useRedis() {
		err := releaseScript.Run(ctx, s.rdb, []string{key}, laneName).Err()
		if !isRedisErr(err) {
			s.succeeded(ctx)
			return nil
		}
		if ferr := s.failed(ctx, "release", err); ferr != nil {
			return ferr
		}
	}
	sh := s.mem.lock(key)
	defer sh.mu.Unlock()
	if e := sh.get(key, s.now()); e != nil && e.hash[laneName+"f"] > 0 {
		e.hash[laneName+"f"]--
	}
	return nil
}

func getLane(e *entry, name string) lane {
	return lane{f: e.hash[name+"f"], ws: e.hash[name+"ws"], lu: e.hash[name+"lu"], lv: e.hash[name+"lv"], ll: e.hash[name+"ll"]}
}

func putLane(e *entry, name string, l lane) {
	if e.hash == nil {
		e.hash = make(map[string]int64, 5)
	}
	e.hash[name+"f"], e.hash[name+"ws"], e.hash[name+"lu"], e.hash[name+"lv"], e.hash[name+"ll"] = l.f, l.ws, l.lu, l.lv, l.ll
}

// takeLane removes and returns a lane written in process while Redis was
// away, so that the next shared reservation carries its failures and lock
// over instead of forgetting them.
func (s *Store) takeLane(key, name string) (lane, bool) {
	sh := s.mem.lock(key)
	defer sh.mu.Unlock()
	e := sh.get(key, s.now())
	if e == nil || !e.dirty {
		return lane{}, false
	}
	l := getLane(e, name)
	if l == (lane{}) {
		return lane{}, false
	}
	for _, f := range LaneFields(name) {
		delete(e.hash, f)
	}
	if len(e.hash) == 0 {
		delete(sh.m, key)
	}
	return lane{f: l.f, lu: l.lu, lv: l.lv, ll: l.ll}, true
}

// restoreLane puts back a lane taken by takeLane when Redis failed.
func (s *Store) restoreLane(key, name string, l lane) {
	nowT := s.now()
	sh := s.mem.lock(key)
	defer sh.mu.Unlock()
	e := sh.make(key, nowT, s.mem.perShard)
	cur := getLane(e, name)
	cur.f += l.f
	cur.lu, cur.lv, cur.ll = max(cur.lu, l.lu), max(cur.lv, l.lv), max(cur.ll, l.ll)
	if cur.ws == 0 {
		cur.ws = nowT.UnixMilli()
	}
	putLane(e, name, cur)
	e.dirty = true
	if e.exp.IsZero() {
		e.exp = nowT.Add(time.Hour)
	}
}
