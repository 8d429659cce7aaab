package redis_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/internal/testenv"
	"github.com/switchboard-chat/switchboard/redis"
)

func msg(role, content string) switchboard.ChatMessage {
	return switchboard.ChatMessage{Role: role, Content: content}
}

func numbered(n int) []switchboard.ChatMessage {
	msgs := make([]switchboard.ChatMessage, n)
	for i := range msgs {
		role := switchboard.RoleUser
		if i%2 == 1 {
			role = switchboard.RoleAssistant
		}
		msgs[i] = msg(role, fmt.Sprintf("message %d", i))
	}
	return msgs
}

func mustGet(tb testing.TB, cc *redis.ContextCache, id string, epoch int64) []switchboard.ChatMessage {
	tb.Helper()
	msgs, ok, err := cc.Get(context.Background(), id, epoch)
	if err != nil || !ok {
		tb.Fatalf("Get(%s, %d) = ok %v, err %v", id, epoch, ok, err)
	}
	return msgs
}

func mustMiss(tb testing.TB, cc *redis.ContextCache, id string, epoch int64) {
	tb.Helper()
	msgs, ok, err := cc.Get(context.Background(), id, epoch)
	if err != nil || ok {
		tb.Fatalf("Get(%s, %d) = %d msgs, ok %v, err %v; want a miss", id, epoch, len(msgs), ok, err)
	}
}

func TestContextCache(t *testing.T) {
	ctx := context.Background()
	c := MustOpenRedis(t)
	cc := c.ContextCache(redis.CacheOptions{TTL: 10 * time.Minute})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	pttl := func(id string) time.Duration {
		t.Helper()
		keys, err := c.Redis().Keys(ctx, "*ctx:{"+id+"}").Result()
		if err != nil || len(keys) != 1 {
			t.Fatalf("keys = %v, %v", keys, err)
		}
		d, err := c.Redis().PTTL(ctx, keys[0]).Result()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}

	t.Run("RoundTrip", func(t *testing.T) {
		in := []switchboard.ChatMessage{msg("user", "你好, I need help 🙂"), msg("assistant", ""), msg("user", strings.Repeat("x", 5000))}
		must(cc.Set(ctx, "rt", 3, in))
		if got := mustGet(t, cc, "rt", 3); fmt.Sprint(got) != fmt.Sprint(in) {
			t.Fatalf("Get = %v", got)
		}
		mustMiss(t, cc, "rt", 2)
		mustMiss(t, cc, "rt", 4)
		mustMiss(t, cc, "nothing", 0)
	})

	t.Run("TTL", func(t *testing.T) {
		must(cc.Set(ctx, "ttl", 0, numbered(2)))
		if d := pttl("ttl"); d <= 0 || d > 10*time.Minute {
			t.Fatalf("PTTL after Set = %v", d)
		}
		c.Redis().PExpire(ctx, c.Redis().Keys(ctx, "*ctx:{ttl}").Val()[0], time.Minute)
		mustGet(t, cc, "ttl", 0)
		if d := pttl("ttl"); d <= 9*time.Minute || d > 10*time.Minute {
			t.Fatalf("PTTL after Get = %v, want refreshed", d)
		}
		c.Redis().PExpire(ctx, c.Redis().Keys(ctx, "*ctx:{ttl}").Val()[0], time.Minute)
		must(cc.Append(ctx, "ttl", 0, msg("user", "more")))
		if d := pttl("ttl"); d <= 9*time.Minute || d > 10*time.Minute {
			t.Fatalf("PTTL after Append = %v, want refreshed", d)
		}
	})

	t.Run("TrimsToMaxTurns", func(t *testing.T) {
		all := numbered(70)
		must(cc.Set(ctx, "trim", 0, all[:60]))
		got := mustGet(t, cc, "trim", 0)
		if len(got) != 50 || got[0] != all[10] || got[49] != all[59] {
			t.Fatalf("after Set of 60: %d msgs, first %v", len(got), got[0])
		}
		for _, m := range all[60:] {
			must(cc.Append(ctx, "trim", 0, m))
		}
		got = mustGet(t, cc, "trim", 0)
		if len(got) != 50 || got[0] != all[20] || got[49] != all[69] {
			t.Fatalf("after Appends: %d msgs, first %v, last %v", len(got), got[0], got[len(got)-1])
		}
	})

	t.Run("TrimsToMaxBytes", func(t *testing.T) {
		small := c.ContextCache(redis.CacheOptions{MaxBytes: 1000})
		big := strings.Repeat("y", 396) // 400 bytes with the role
		must(small.Set(ctx, "bytes", 0, []switchboard.ChatMessage{msg("user", big), msg("user", big), msg("user", big)}))
		if got := mustGet(t, small, "bytes", 0); len(got) != 2 {
			t.Fatalf("kept %d messages of 400 bytes under 1000", len(got))
		}
		must(small.Append(ctx, "bytes", 0, msg("user", strings.Repeat("z", 2000))))
		if got := mustGet(t, small, "bytes", 0); len(got) != 1 || got[0].Content[0] != 'z' {
			t.Fatalf("an oversize newest message: kept %d", len(got))
		}
	})

	t.Run("AppendOnMissDoesNothing", func(t *testing.T) {
		must(cc.Append(ctx, "miss", 0, msg("user", "hi")))
		mustMiss(t, cc, "miss", 0)
	})

	t.Run("Epochs", func(t *testing.T) {
		must(cc.Set(ctx, "ep", 5, numbered(3)))
		must(cc.Append(ctx, "ep", 4, msg("user", "from an old job")))
		if got := mustGet(t, cc, "ep", 5); len(got) != 3 {
			t.Fatalf("an older epoch's Append changed the context: %v", got)
		}
		must(cc.Append(ctx, "ep", 6, msg("user", "after a reset")))
		mustMiss(t, cc, "ep", 5)
		mustMiss(t, cc, "ep", 6)
	})

	t.Run("Invalidate", func(t *testing.T) {
		must(cc.Set(ctx, "inv", 0, numbered(3)))
		must(cc.Invalidate(ctx, "inv"))
		mustMiss(t, cc, "inv", 0)
		must(cc.Invalidate(ctx, "inv")) // idempotent
	})

	t.Run("AppendConcurrent", func(t *testing.T) {
		must(cc.Set(ctx, "conc", 0, nil))
		const n = 40
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				if err := cc.Append(ctx, "conc", 0, msg("user", fmt.Sprint(i))); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		got := mustGet(t, cc, "conc", 0)
		seen := map[string]int{}
		for _, m := range got {
			seen[m.Content]++
		}
		if len(got) != n || len(seen) != n {
			t.Fatalf("%d messages, %d distinct, want %d: lost updates", len(got), len(seen), n)
		}
	})

	t.Run("AppendConcurrentTwoInstances", func(t *testing.T) {
		prefix := uniquePrefix()
		one := mustOpenPrefix(t, testenv.RedisURL(t), prefix).ContextCache(redis.CacheOptions{})
		other := mustOpenPrefix(t, testenv.RedisURL(t), prefix).ContextCache(redis.CacheOptions{})
		must(one.Set(ctx, "conc2", 1, numbered(10)))
		var wg sync.WaitGroup
		for i := range 30 {
			x := one
			if i%2 == 1 {
				x = other
			}
			wg.Go(func() {
				if err := x.Append(ctx, "conc2", 1, msg("user", fmt.Sprint("n", i)), msg("assistant", fmt.Sprint("r", i))); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		got := mustGet(t, other, "conc2", 1)
		if len(got) != 50 {
			t.Fatalf("%d messages, want 50 (70 trimmed)", len(got))
		}
		// Pairs appended together stay together and in order.
		for i := 0; i < len(got); i += 2 {
			if got[i].Content[0] != 'n' || got[i+1].Content[1:] != got[i].Content[1:] {
				t.Fatalf("pair %d split: %v %v", i, got[i], got[i+1])
			}
		}
	})
}

// conversation returns a realistic customer-service conversation of n
// turns (one ChatMessage each), reproducible.
func conversation(n int) []switchboard.ChatMessage {
	r := rand.New(rand.NewPCG(1, 2))
	user := []string{
		"Hi, I ordered a pair of running shoes last week and they still haven't arrived. Order number is #%d.",
		"Can you tell me when it will be delivered? The tracking page says 'label created' since Monday.",
		"I paid for express shipping, so I expected it by %d March.",
		"Is it possible to change the delivery address to my office? It's %d Harbour Street, floor 3.",
		"What is your return policy if the size doesn't fit?",
		"Do you have the same model in size %d.5 in blue?",
		"I was charged twice on my card, once for €%d.99 and once for €%d.00.",
		"Thanks. Can I get a refund for the shipping cost since it's late?",
		"How long does a refund usually take to show up on a Visa card?",
		"我的订单还没到，可以帮我查一下吗？订单号 %d。",
		"OK, and do I need to print the return label or can I show a QR code at the post office?",
		"Great, one more question: does the warranty cover the sole coming off after %d months?",
	}
	bot := []string{
		"Thanks for reaching out! I've looked up order #%d: it left our warehouse in Rotterdam on Tuesday and is now with the carrier.",
		"I'm sorry about the delay. Express parcels normally arrive within 2 business days; this one has been held at the sorting centre because of a scanning error, and the carrier expects to deliver it by %d March.",
		"You can return unworn items within 30 days of delivery for a full refund. Start a return from Orders → Return item, print the label (or show the QR code at any drop-off point) and we'll refund you within %d business days of receiving the parcel.",
		"Yes — I can change the delivery address as long as the parcel hasn't been handed to the local courier. I've sent a redirect request to %d Harbour Street, floor 3; you'll get a confirmation email within an hour.",
		"I checked our stock: the model is available in blue in sizes 40 to %d. Would you like me to reserve a pair while you decide?",
		"I can see two card authorisations. The second one (€%d.00) is a pre-authorisation that your bank will release automatically within 3–5 days; you have only been charged once.",
		"I've refunded the express shipping fee (€%d.95) to your original payment method as an apology for the delay.",
		"Refunds to Visa cards usually appear within 3–%d business days, depending on your bank.",
		"已为您查询：订单 %d 已于周二发出，预计三天内送达。如有其他问题请随时联系我们。",
		"Our 12-month warranty covers manufacturing defects, including soles detaching under normal use. Send us a photo via the returns page and we'll arrange a replacement or refund within %d days.",
	}
	msgs := make([]switchboard.ChatMessage, n)
	for i := range msgs {
		if i%2 == 0 {
			msgs[i] = msg(switchboard.RoleUser, fmt.Sprintf(user[r.IntN(len(user))], 10000+r.IntN(90000), r.IntN(30)+1))
		} else {
			// Assistant answers are longer: two or three sentences.
			var b strings.Builder
			for range 2 + r.IntN(2) {
				fmt.Fprintf(&b, bot[r.IntN(len(bot))]+" ", r.IntN(90000)+10)
			}
			msgs[i] = msg(switchboard.RoleAssistant, strings.TrimSpace(b.String()))
		}
	}
	for i := range msgs { // Sprintf leaves "%!(EXTRA …)" for unused arguments
		if j := strings.Index(msgs[i].Content, "%!(EXTRA"); j >= 0 {
			msgs[i].Content = msgs[i].Content[:j]
		}
	}
	return msgs
}

// proseConversation is a 50-turn conversation whose assistant turns are
// consecutive, never repeated paragraphs of the knowledge-base documents
// (answers grounded in them), the harder case for compression.
func proseConversation(tb testing.TB, n int) []switchboard.ChatMessage {
	tb.Helper()
	files, _ := filepath.Glob("../kb/defaults/*.md")
	var paras []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		for _, p := range strings.Split(string(b), "\n\n") {
			if p = strings.TrimSpace(p); len(p) > 80 {
				paras = append(paras, p)
			}
		}
	}
	if len(paras) < n {
		tb.Skipf("only %d paragraphs in kb/defaults", len(paras))
	}
	user := conversation(n)
	msgs := make([]switchboard.ChatMessage, n)
	for i := range msgs {
		if i%2 == 0 {
			msgs[i] = user[i]
		} else {
			msgs[i] = msg(switchboard.RoleAssistant, paras[i])
		}
	}
	return msgs
}

// TestContextCache_Size reports the bytes a cached 50-turn conversation
// takes: raw JSON, the compact encoding, and what Redis stores.
func TestContextCache_Size(t *testing.T) {
	ctx := context.Background()
	c := MustOpenRedis(t)
	cc := c.ContextCache(redis.CacheOptions{})
	for _, tc := range []struct {
		name string
		msgs func(testing.TB) []switchboard.ChatMessage
	}{
		{"Templated", func(testing.TB) []switchboard.ChatMessage { return conversation(50) }},
		{"Prose", func(tb testing.TB) []switchboard.ChatMessage { return proseConversation(tb, 50) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msgs := tc.msgs(t)
			if err := cc.Set(ctx, tc.name, 1, msgs); err != nil {
				t.Fatal(err)
			}
			if got := mustGet(t, cc, tc.name, 1); len(got) != 50 || got[49] != msgs[49] {
				t.Fatalf("round trip lost messages: %d", len(got))
			}
			text := 0
			for _, m := range msgs {
				text += len(m.Role) + len(m.Content)
			}
			js, _ := json.Marshal(msgs)
			key := c.Redis().Keys(ctx, "*ctx:{"+tc.name+"}").Val()[0]
			stored, _ := c.Redis().StrLen(ctx, key).Result()
			usage, _ := c.Redis().MemoryUsage(ctx, key).Result()
			t.Logf("50 turns: text %d B, JSON %d B, stored (compact+flate) %d B = %.1fx smaller than JSON; Redis MEMORY USAGE %d B",
				text, len(js), stored, float64(len(js))/float64(stored), usage)
			if stored >= int64(len(js)) {
				t.Fatalf("stored %d B, not smaller than %d B of JSON", stored, len(js))
			}
		})
	}
}

func BenchmarkContextCache(b *testing.B) {
	ctx := context.Background()
	c := MustOpenRedis(b)
	cc := c.ContextCache(redis.CacheOptions{})
	msgs := conversation(50)
	if err := cc.Set(ctx, "bench", 1, msgs); err != nil {
		b.Fatal(err)
	}
	b.Run("Get50", func(b *testing.B) {
		for b.Loop() {
			if _, ok, err := cc.Get(ctx, "bench", 1); !ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("Append", func(b *testing.B) {
		for b.Loop() {
			if err := cc.Append(ctx, "bench", 1, msgs[0]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
