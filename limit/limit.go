// Package limit implements Switchboard's rate limits and budgets for the
// embedded mode (in-process, exact sliding windows), a fail-open/closed
// wrapper for shared limiters (Redis), and the RateLimit-* HTTP headers.
package limit

import (
	"hash/maphash"
	"sync"
	"time"
)

// numShards of the in-memory maps; a power of two.
const numShards = 64

// sweepEvery is how often a shard drops its expired keys, lazily on access.
const sweepEvery = time.Minute

// shardedMap is a map split over numShards mutexes. Each shard drops
// expired values when accessed sweepEvery after its last sweep, so no
// background goroutine is needed.
type shardedMap[V any] struct {
	seed    maphash.Seed
	shards  [numShards]shard[V]
	expired func(v V, now time.Time) bool
}

type shard[V any] struct {
	mu        sync.Mutex
	m         map[string]V
	lastSweep time.Time
	_         [40]byte // keep shards on separate cache lines
}

func newShardedMap[V any](now time.Time, expired func(V, time.Time) bool) *shardedMap[V] {
	sm := &shardedMap[V]{seed: maphash.MakeSeed(), expired: expired}
	for i := range sm.shards {
		sm.shards[i].m = make(map[string]V)
		sm.shards[i].lastSweep = now
	}
	return sm
}

// lock returns key's shard, locked and swept; the caller unlocks it.
func (sm *shardedMap[V]) lock(key string, now time.Time) *shard[V] {
	s := &sm.shards[maphash.String(sm.seed, key)&(numShards-1)]
	s.mu.Lock()
	if now.Sub(s.lastSweep) >= sweepEvery {
		for k, v := range s.m {
			if sm.expired(v, now) {
				delete(s.m, k)
			}
		}
		s.lastSweep = now
	}
	return s
}

// len returns the number of keys held, expired or not.
func (sm *shardedMap[V]) len() int {
	n := 0
	for i := range sm.shards {
		s := &sm.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}
