package redis_test

import (
	"context"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/limit/limittest"
)

func TestBudgets_Contract(t *testing.T) {
	limittest.RunBudgets(t, func(tb testing.TB) switchboard.Budgets { return MustOpenRedis(tb).Budgets() })
}

func TestBudgets_Redis(t *testing.T) {
	ctx := context.Background()
	c := MustOpenRedis(t)
	b := c.Budgets()
	s := "apikey:k1"
	if err := b.Add(ctx, s, 5000, 0.125); err != nil {
		t.Fatal(err)
	}

	t.Run("OneKeyWithTTL", func(t *testing.T) {
		keys, err := c.Redis().Keys(ctx, "*"+s+"*").Result()
		if err != nil || len(keys) != 1 {
			t.Fatalf("keys = %v, %v", keys, err)
		}
		ttl, err := c.Redis().TTL(ctx, keys[0]).Result()
		if err != nil || ttl < 60*time.Second || ttl > 24*time.Hour+61*time.Second {
			t.Fatalf("TTL = %v, %v", ttl, err)
		}
	})

	t.Run("OverTokens", func(t *testing.T) {
		err := b.Check(ctx, s, switchboard.BudgetLimits{TokensPerMinute: 4000, CostPerDay: 10})
		if switchboard.ErrorCode(err) != switchboard.EBUDGET {
			t.Fatalf("Check = %v", err)
		}
		// The 5000 tokens were added this second: they leave within 60 s.
		if ra := switchboard.ErrorRetryAfter(err); ra <= 58*time.Second || ra > 60*time.Second {
			t.Fatalf("RetryAfter = %v", ra)
		}
		t.Logf("%v", err)
	})

	t.Run("OverCost", func(t *testing.T) {
		err := b.Check(ctx, s, switchboard.BudgetLimits{CostPerDay: 0.125})
		if switchboard.ErrorCode(err) != switchboard.EBUDGET {
			t.Fatalf("Check = %v", err)
		}
		now := time.Now().UTC()
		midnight := now.Truncate(24 * time.Hour).Add(24 * time.Hour)
		if ra := switchboard.ErrorRetryAfter(err); ra-midnight.Sub(now) > 5*time.Second || midnight.Sub(now)-ra > 5*time.Second {
			t.Fatalf("RetryAfter = %v, want about %v (until midnight UTC)", ra, midnight.Sub(now))
		}
		t.Logf("%v", err)
	})

	t.Run("TwoInstances", func(t *testing.T) {
		other := MustOpenRedis(t) // a different prefix: nothing shared
		if sp, _ := other.Budgets().Spent(ctx, s); sp != (switchboard.Spend{}) {
			t.Fatalf("prefix leak: %+v", sp)
		}
	})
}
