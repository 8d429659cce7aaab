package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	sb "github.com/switchboard-chat/switchboard"
)

// Why Redis Streams (and not pub/sub alone) for frames: a stream is both
// the live feed and a replay log. An instance that starts following a
// conversation reads the log (XRANGE) and then follows from the last entry
// it saw (XREAD), so no frame published in between is lost — with pub/sub
// a frame published before SUBSCRIBE takes effect would be, and a resume
// on another instance could not rebuild an answer still streaming there.
// Durable events are replayed from the store; the stream is capped.
const (
	// LogMaxLen caps each conversation's log (approximate trimming).
	LogMaxLen = 4096
	// LogTTL expires the log of an idle conversation.
	LogTTL = time.Hour
	// followBlock bounds how long a newly followed conversation waits for
	// the reader to include it.
	followBlock = 100 * time.Millisecond
)

var _ sb.Bus = (*Bus)(nil)

// BusOptions configure a Bus.
type BusOptions struct {
	OnFrame   func(sb.BusFrame)   // frames of followed conversations
	OnCommand func(sb.BusCommand) // commands from any instance
	Logger    *slog.Logger
}

// Bus is the cross-instance bus over one Redis: a stream per conversation,
// one reader goroutine following all of this instance's conversations,
// a pub/sub channel for commands and SET NX leases.
type Bus struct {
	c   *Client
	opt BusOptions

	mu      sync.Mutex
	follows map[string]*followState // conversation -> position
	wake    chan struct{}

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type followState struct {
	pos  string
	refs int
}

// NewBus returns a Bus; Open starts its goroutines.
func (c *Client) NewBus(opt BusOptions) *Bus {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	return &Bus{c: c, opt: opt, follows: map[string]*followState{}, wake: make(chan struct{}, 1)}
}

// Open starts the frame reader and the command subscriber.
func (b *Bus) Open(ctx context.Context) error {
	ps := b.c.rdb.Subscribe(ctx, b.c.key("cmd", "all"))
	if _, err := ps.Receive(ctx); err != nil { // wait for the subscription
		ps.Close()
		return fmt.Errorf("redis subscribe commands: %w", err)
	}
	bg, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	b.wg.Add(2)
	go func() { defer b.wg.Done(); b.readFrames(bg) }()
	go func() {
		defer b.wg.Done()
		defer ps.Close()
		ch := ps.Channel()
		for {
			select {
			case <-bg.Done():
				return
			case m, ok := <-ch:
				if !ok {
					return
				}
				var c sb.BusCommand
				if json.Unmarshal([]byte(m.Payload), &c) == nil && b.opt.OnCommand != nil {
					b.opt.OnCommand(c)
				}
			}
		}
	}()
	return nil
}

// Close stops the goroutines.
func (b *Bus) Close() error {
	if b.cancel != nil {
		b.cancel()
	}
	b.wg.Wait()
	return nil
}

func (b *Bus) streamKey(convID string) string { return b.c.key("ev", convID) }

// Append adds a frame to the conversation's stream.
func (b *Bus) Append(ctx context.Context, convID string, f sb.BusFrame) error {
	data, err := json.Marshal(f)
	if err != nil {
		return err
	}
	key := b.streamKey(convID)
	pipe := b.c.rdb.Pipeline()
	pipe.XAdd(ctx, &goredis.XAddArgs{Stream: key, MaxLen: LogMaxLen, Approx: true, Values: []any{"f", data}})
	pipe.PExpire(ctx, key, LogTTL)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("redis append frame: %w", err)
	}
	return nil
}

// Log returns the conversation's stream and the position after it.
func (b *Bus) Log(ctx context.Context, convID string) ([]sb.BusFrame, string, error) {
	msgs, err := b.c.rdb.XRange(ctx, b.streamKey(convID), "-", "+").Result()
	if err != nil {
		return nil, "", fmt.Errorf("redis read log: %w", err)
	}
	pos := "0-0"
	out := make([]sb.BusFrame, 0, len(msgs))
	for _, m := range msgs {
		if f, ok := decodeFrame(m); ok {
			out = append(out, f)
		}
		pos = m.ID
	}
	return out, pos, nil
}

func decodeFrame(m goredis.XMessage) (sb.BusFrame, bool) {
	s, _ := m.Values["f"].(string)
	var f sb.BusFrame
	if err := json.Unmarshal([]byte(s), &f); err != nil {
		return f, false
	}
	f.ID = m.ID
	return f, true
}

// Follow adds the conversation to the reader, from position from.
func (b *Bus) Follow(ctx context.Context, convID, from string) (func(), error) {
	b.mu.Lock()
	st := b.follows[convID]
	if st == nil {
		st = &followState{pos: from}
		b.follows[convID] = st
	}
	st.refs++
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			if st.refs--; st.refs == 0 {
				delete(b.follows, convID)
			}
			b.mu.Unlock()
		})
	}, nil
}

// readFrames is the one reader: XREAD over every followed stream.
func (b *Bus) readFrames(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		b.mu.Lock()
		keys := make([]string, 0, 2*len(b.follows))
		ids := make([]string, 0, len(b.follows))
		convs := make(map[string]*followState, len(b.follows))
		for conv, st := range b.follows {
			convs[conv] = st
			keys = append(keys, b.streamKey(conv))
			ids = append(ids, st.pos)
		}
		b.mu.Unlock()
		if len(convs) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-b.wake:
			}
			continue
		}
		res, err := b.c.rdb.XRead(ctx, &goredis.XReadArgs{Streams: append(keys, ids...), Count: 512, Block: followBlock}).Result()
		if errors.Is(err, goredis.Nil) {
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			b.opt.Logger.Warn("redis follow frames", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		for _, s := range res {
			conv := strings.TrimSuffix(strings.TrimPrefix(s.Stream, b.c.prefix+"ev:{"), "}")
			// A conversation unfollowed and followed again while we read
			// has a new position (after the log its follower read): these
			// frames are not for it, and must not move its position back.
			b.mu.Lock()
			current := b.follows[conv] == convs[conv]
			b.mu.Unlock()
			if !current {
				continue
			}
			for _, m := range s.Messages {
				if f, ok := decodeFrame(m); ok && b.opt.OnFrame != nil {
					b.opt.OnFrame(f)
				}
			}
			if n := len(s.Messages); n > 0 {
				b.mu.Lock()
				if st := b.follows[conv]; st != nil && st == convs[conv] {
					st.pos = s.Messages[n-1].ID
				}
				b.mu.Unlock()
			}
		}
	}
}

// Send publishes a command to every instance.
func (b *Bus) Send(ctx context.Context, c sb.BusCommand) error {
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := b.c.rdb.Publish(ctx, b.c.key("cmd", "all"), data).Err(); err != nil {
		return fmt.Errorf("redis publish command: %w", err)
	}
	return nil
}

func (b *Bus) leaseKey(convID string) string { return b.c.key("lease", convID) }

var (
	renewScript   = goredis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`)
	releaseScript = goredis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`)
)

// AcquireLease takes the lease when nobody holds it (or owner already does).
func (b *Bus) AcquireLease(ctx context.Context, convID, owner string, ttl time.Duration) (bool, error) {
	ok, err := b.c.rdb.SetNX(ctx, b.leaseKey(convID), owner, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("redis acquire lease: %w", err)
	}
	if ok {
		return true, nil
	}
	return b.RenewLease(ctx, convID, owner, ttl)
}

// RenewLease extends the lease if owner holds it.
func (b *Bus) RenewLease(ctx context.Context, convID, owner string, ttl time.Duration) (bool, error) {
	n, err := renewScript.Run(ctx, b.c.rdb, []string{b.leaseKey(convID)}, owner, ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("redis renew lease: %w", err)
	}
	return n == 1, nil
}

// ReleaseLease drops the lease if owner holds it.
func (b *Bus) ReleaseLease(ctx context.Context, convID, owner string) error {
	if err := releaseScript.Run(ctx, b.c.rdb, []string{b.leaseKey(convID)}, owner).Err(); err != nil {
		return fmt.Errorf("redis release lease: %w", err)
	}
	return nil
}

// LeaseHolder returns who holds the lease, "" when nobody does.
func (b *Bus) LeaseHolder(ctx context.Context, convID string) (string, error) {
	s, err := b.c.rdb.Get(ctx, b.leaseKey(convID)).Result()
	if errors.Is(err, goredis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("redis lease holder: %w", err)
	}
	return s, nil
}
