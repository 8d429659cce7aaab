package redis

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/switchboard-chat/switchboard"
)

var _ switchboard.ContextCache = (*ContextCache)(nil)

// Defaults of CacheOptions.
const (
	DefaultMaxTurns = 50
	DefaultMaxBytes = 128 << 10
	DefaultCacheTTL = 30 * time.Minute
)

// appendAttempts bounds the optimistic retries of one Append; each round
// lets at least one concurrent writer of the conversation through.
const appendAttempts = 100

// CacheOptions configure a ContextCache; zero fields take defaults.
type CacheOptions struct {
	MaxTurns int           // messages kept, newest first; default 50
	MaxBytes int           // raw bytes (role + content) kept; default 128 KiB
	TTL      time.Duration // refreshed on every Get and Append; default 30 min
}

// ContextCache keeps each conversation's model context in one Redis key,
// "sb:ctx:{conversationID}", always with a TTL (allkeys-lru friendly). The
// value is a compact binary encoding, flate-compressed:
//
//	0x01 | varint epoch | flate( uvarint n | n × (uvarint len, role, uvarint len, content) )
//
// Contexts are trimmed to MaxTurns messages and MaxBytes raw bytes by
// dropping the oldest (the newest message is always kept). A turn is one
// ChatMessage.
//
// Append is a read-modify-write under WATCH/MULTI (Lua cannot inflate), so
// concurrent Appends to one conversation all land, in some order.
type ContextCache struct {
	c    *Client
	opts CacheOptions
	// Compressors are reused: a flate.Writer allocates ~1 MB.
	writers sync.Pool
}

// ContextCache returns the conversation context cache.
func (c *Client) ContextCache(opts CacheOptions) *ContextCache {
	if opts.MaxTurns <= 0 {
		opts.MaxTurns = DefaultMaxTurns
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultCacheTTL
	}
	return &ContextCache{c: c, opts: opts}
}

// Get returns the cached context of epoch and refreshes its TTL. A missing
// key, or one cached for another epoch, is a miss.
func (cc *ContextCache) Get(ctx context.Context, conversationID string, epoch int64) ([]switchboard.ChatMessage, bool, error) {
	b, err := cc.c.rdb.GetEx(ctx, cc.key(conversationID), cc.opts.TTL).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, false, nil
	} else if err != nil {
		return nil, false, fmt.Errorf("redis context get: %w", err)
	}
	got, err := decodeEpoch(b)
	if err != nil || got != epoch {
		return nil, false, nil // corrupt or stale: a miss, Set replaces it
	}
	msgs, err := cc.decode(b)
	if err != nil {
		return nil, false, nil
	}
	return msgs, true, nil
}

// Set replaces the cached context, trimmed to the bounds.
func (cc *ContextCache) Set(ctx context.Context, conversationID string, epoch int64, msgs []switchboard.ChatMessage) error {
	b, err := cc.encode(epoch, cc.trim(msgs))
	if err != nil {
		return err
	}
	if err := cc.c.rdb.Set(ctx, cc.key(conversationID), b, cc.opts.TTL).Err(); err != nil {
		return fmt.Errorf("redis context set: %w", err)
	}
	return nil
}

// Append adds msgs to the cached context of epoch atomically, trims it and
// refreshes its TTL. On a miss it does nothing: the cache never holds a
// partial context, so the next Get misses and the caller loads the context
// from the store and Sets it. A context cached for an older epoch is
// deleted; an Append for an older epoch than the cached one is ignored.
func (cc *ContextCache) Append(ctx context.Context, conversationID string, epoch int64, msgs ...switchboard.ChatMessage) error {
	if len(msgs) == 0 {
		return nil
	}
	key := cc.key(conversationID)
	txf := func(tx *goredis.Tx) error {
		b, err := tx.Get(ctx, key).Bytes()
		if errors.Is(err, goredis.Nil) {
			return nil
		} else if err != nil {
			return err
		}
		cached, err := decodeEpoch(b)
		var old []switchboard.ChatMessage
		if err == nil && cached == epoch {
			old, err = cc.decode(b)
		}
		if err != nil || cached < epoch {
			_, err := tx.TxPipelined(ctx, func(p goredis.Pipeliner) error { return p.Del(ctx, key).Err() })
			return err
		}
		if cached > epoch {
			return nil
		}
		nb, err := cc.encode(epoch, cc.trim(append(old, msgs...)))
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			return p.Set(ctx, key, nb, cc.opts.TTL).Err()
		})
		return err
	}
	for range appendAttempts {
		err := cc.c.rdb.Watch(ctx, txf, key)
		if !errors.Is(err, goredis.TxFailedErr) {
			if err != nil {
				return fmt.Errorf("redis context append: %w", err)
			}
			return nil
		}
		// Lost the race: back off a little (jittered) and retry.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(rand.Int64N(int64(2 * time.Millisecond)))):
		}
	}
	// Never leave a context that may miss a message: drop it.
	if err := cc.Invalidate(ctx, conversationID); err != nil {
		return err
	}
	return fmt.Errorf("redis context append: gave up after %d conflicting attempts", appendAttempts)
}

// Invalidate drops the cached context.
func (cc *ContextCache) Invalidate(ctx context.Context, conversationID string) error {
	if err := cc.c.rdb.Del(ctx, cc.key(conversationID)).Err(); err != nil {
		return fmt.Errorf("redis context invalidate: %w", err)
	}
	return nil
}

func (cc *ContextCache) key(conversationID string) string { return cc.c.key("ctx", conversationID) }

// trim keeps the newest MaxTurns messages within MaxBytes (at least one).
func (cc *ContextCache) trim(msgs []switchboard.ChatMessage) []switchboard.ChatMessage {
	if len(msgs) > cc.opts.MaxTurns {
		msgs = msgs[len(msgs)-cc.opts.MaxTurns:]
	}
	size := 0
	for i := len(msgs) - 1; i >= 0; i-- {
		size += len(msgs[i].Role) + len(msgs[i].Content)
		if size > cc.opts.MaxBytes && i < len(msgs)-1 {
			return msgs[i+1:]
		}
	}
	return msgs
}

const encodingVersion = 1

func (cc *ContextCache) encode(epoch int64, msgs []switchboard.ChatMessage) ([]byte, error) {
	var raw []byte
	raw = binary.AppendUvarint(raw, uint64(len(msgs)))
	for _, m := range msgs {
		raw = binary.AppendUvarint(raw, uint64(len(m.Role)))
		raw = append(raw, m.Role...)
		raw = binary.AppendUvarint(raw, uint64(len(m.Content)))
		raw = append(raw, m.Content...)
	}
	var buf bytes.Buffer
	buf.WriteByte(encodingVersion)
	buf.Write(binary.AppendVarint(nil, epoch))
	fw, _ := cc.writers.Get().(*flate.Writer)
	if fw == nil {
		fw, _ = flate.NewWriter(&buf, flate.DefaultCompression) // only fails on a bad level
	} else {
		fw.Reset(&buf)
	}
	defer cc.writers.Put(fw)
	if _, err := fw.Write(raw); err != nil {
		return nil, fmt.Errorf("redis context encode: %w", err)
	}
	if err := fw.Close(); err != nil {
		return nil, fmt.Errorf("redis context encode: %w", err)
	}
	return buf.Bytes(), nil
}

var errCorrupt = errors.New("redis context: corrupt value")

// decodeEpoch reads the epoch from the uncompressed header.
func decodeEpoch(b []byte) (int64, error) {
	if len(b) < 2 || b[0] != encodingVersion {
		return 0, errCorrupt
	}
	epoch, n := binary.Varint(b[1:])
	if n <= 0 {
		return 0, errCorrupt
	}
	return epoch, nil
}

func (cc *ContextCache) decode(b []byte) ([]switchboard.ChatMessage, error) {
	_, n := binary.Varint(b[1:])
	// Bound the inflated size: a valid value holds at most MaxTurns messages
	// of MaxBytes (the newest may exceed it alone), plus length prefixes.
	limit := int64(4*cc.opts.MaxBytes) + 1<<20
	raw, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(b[1+n:])), limit))
	if err != nil {
		return nil, errCorrupt
	}
	count, k := binary.Uvarint(raw)
	if k <= 0 || count > uint64(len(raw)) {
		return nil, errCorrupt
	}
	raw = raw[k:]
	msgs := make([]switchboard.ChatMessage, 0, count)
	next := func() (string, bool) {
		l, k := binary.Uvarint(raw)
		if k <= 0 || l > uint64(len(raw)-k) {
			return "", false
		}
		s := string(raw[k : k+int(l)])
		raw = raw[k+int(l):]
		return s, true
	}
	for range count {
		role, ok1 := next()
		content, ok2 := next()
		if !ok1 || !ok2 {
			return nil, errCorrupt
		}
		msgs = append(msgs, switchboard.ChatMessage{Role: role, Content: content})
	}
	if len(raw) != 0 {
		return nil, errCorrupt
	}
	return msgs, nil
}
