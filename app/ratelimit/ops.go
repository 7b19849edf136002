package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

type opKind uint8

const (
	opPFAdd opKind = iota + 1
	opPFCount
	opHIncr
	opHGet
	opHDel
	opGet
	opSet
)

// Op is one command of a batch run by Exec. Build it with PFAdd, PFCount,
// HIncr, HGet, HDel, Get or Set. Each Op touches one key.
type Op struct {
	kind   opKind
	key    string
	member string
	fields []string
	n      int64
	ttl    time.Duration
}

// PFAdd adds member to the distinct count at key (HyperLogLog). A ttl > 0
// is set when the key has none, so the count covers a fixed window from its
// first member.
func PFAdd(key, member string, ttl time.Duration) Op {
	return Op{kind: opPFAdd, key: key, member: member, ttl: ttl}
}

// PFCount reads the distinct count at key into OpResult.Int.
func PFCount(key string) Op { return Op{kind: opPFCount, key: key} }

// HIncr adds n to field of the hash at key; a ttl > 0 is set when the key
// has none (a fixed window from the first increment).
func HIncr(key, field string, n int64, ttl time.Duration) Op {
	return Op{kind: opHIncr, key: key, fields: []string{field}, n: n, ttl: ttl}
}

// HGet reads integer fields of the hash at key into OpResult.Ints (0 for a
// missing field).
func HGet(key string, fields ...string) Op { return Op{kind: opHGet, key: key, fields: fields} }

// HDel removes fields of the hash at key.
func HDel(key string, fields ...string) Op { return Op{kind: opHDel, key: key, fields: fields} }

// Get reads the string at key into OpResult.Str and OpResult.Found.
func Get(key string) Op { return Op{kind: opGet, key: key} }

// Set stores value at key for ttl (0: no expiry).
func Set(key, value string, ttl time.Duration) Op {
	return Op{kind: opSet, key: key, member: value, ttl: ttl}
}

// OpResult is the answer to one Op.
type OpResult struct {
	Int   int64
	Ints  []int64
	Str   string
	Found bool
}

// Exec runs ops in one Redis round trip (a pipeline; each op alone on its
// key, so Redis Cluster splits it by node), or in process while Redis is
// away. Results are in the order of ops. The only error is the caller's
// context ending.
func (s *Store) Exec(ctx context.Context, ops ...Op) ([]OpResult, error) {
	if len(ops) == 0 {
		return nil, nil
	}
	if s.useRedis() {
		res, err := s.execRedis(ctx, ops)
		if err == nil {
			s.succeeded(ctx)
			// A success in Redis must also clear what the fallback counted
			// meanwhile, or it would be carried back later.
			s.memHDels(ops)
			return res, nil
		}
		if ferr := s.failed(ctx, "exec", err); ferr != nil {
			return nil, ferr
		}
	}
	return s.execMemory(ops), nil
}

func (s *Store) execRedis(ctx context.Context, ops []Op) ([]OpResult, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]redis.Cmder, len(ops))
	for i, op := range ops {
		switch op.kind {
		case opPFAdd:
			cmds[i] = pipe.PFAdd(ctx, op.key, op.member)
		case opPFCount:
			cmds[i] = pipe.PFCount(ctx, op.key)
		case opHIncr:
			cmds[i] = pipe.HIncrBy(ctx, op.key, op.fields[0], op.n)
		case opHGet:
			cmds[i] = pipe.HMGet(ctx, op.key, op.fields...)
		case opHDel:
			cmds[i] = pipe.HDel(ctx, op.key, op.fields...)
		case opGet:
			cmds[i] = pipe.Get(ctx, op.key)
		case opSet:
			cmds[i] = pipe.Set(ctx, op.key, op.member, op.ttl)
		default:
			return nil, fmt.Errorf("ratelimit: unknown op %d", op.kind)
		}
		if (op.kind == opPFAdd || op.kind == opHIncr) && op.ttl > 0 {
			pipe.Do(ctx, "pexpire", op.key, op.ttl.Milliseconds(), "nx")
		}
	}
	if _, err := pipe.Exec(ctx); isRedisErr(err) {
		return nil, err
	}
	res := make([]OpResult, len(ops))
	for i, c := range cmds {
		if err := c.Err(); isRedisErr(err) {
			return nil, err
		}
		switch c := c.(type) {
		case *redis.IntCmd:
			res[i].Int = c.Val()
		case *redis.SliceCmd:
			res[i].Ints = make([]int64, len(c.Val()))
			for j, v := range c.Val() {
				if str, ok := v.(string); ok {
					res[i].Ints[j], _ = strconv.ParseInt(str, 10, 64)
				}
			}
		case *redis.StringCmd:
			res[i].Str = c.Val()
			res[i].Found = !errors.Is(c.Err(), redis.Nil)
		}
	}
	return res, nil
}

func (s *Store) execMemory(ops []Op) []OpResult {
	now := s.now()
	res := make([]OpResult, len(ops))
	for i, op := range ops {
		sh := s.mem.lock(op.key)
		switch op.kind {
		case opPFAdd:
			e := sh.make(op.key, now, s.mem.perShard)
			e.add(op.member)
			e.expireNX(now, op.ttl)
		case opPFCount:
			if e := sh.get(op.key, now); e != nil {
				res[i].Int = e.distinct()
			}
		case opHIncr:
			e := sh.make(op.key, now, s.mem.perShard)
			if e.hash == nil {
				e.hash = make(map[string]int64)
			}
			e.hash[op.fields[0]] += op.n
			res[i].Int = e.hash[op.fields[0]]
			e.expireNX(now, op.ttl)
		case opHGet:
			res[i].Ints = make([]int64, len(op.fields))
			if e := sh.get(op.key, now); e != nil {
				for j, f := range op.fields {
					res[i].Ints[j] = e.hash[f]
				}
			}
		case opHDel:
			if e := sh.get(op.key, now); e != nil {
				for _, f := range op.fields {
					delete(e.hash, f)
				}
			}
		case opGet:
			if e := sh.get(op.key, now); e != nil {
				res[i].Str, res[i].Found = e.str, true
			}
		case opSet:
			e := sh.make(op.key, now, s.mem.perShard)
			e.str = op.member
			e.exp = time.Time{}
			if op.ttl > 0 {
				e.exp = now.Add(op.ttl)
			}
		}
		sh.mu.Unlock()
	}
	return res
}

// memHDels applies a batch's HDels to the fallback too.
func (s *Store) memHDels(ops []Op) {
	now := s.now()
	for _, op := range ops {
		if op.kind != opHDel {
			continue
		}
		sh := s.mem.lock(op.key)
		if e := sh.get(op.key, now); e != nil {
			for _, f := range op.fields {
				delete(e.hash, f)
			}
		}
		sh.mu.Unlock()
	}
}
