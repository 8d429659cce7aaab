package limit_test

import (
	"context"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/limit"
	"github.com/switchboard-chat/switchboard/limit/limittest"
)

func TestMemoryBudgets_Contract(t *testing.T) {
	limittest.RunBudgets(t, func(testing.TB) switchboard.Budgets { return limit.NewMemoryBudgets(nil) })
}

func TestMemoryBudgets_Clocked(t *testing.T) {
	ctx := context.Background()
	clk := newClock() // 23:59:00 UTC
	b := limit.NewMemoryBudgets(clk.Now)
	limits := switchboard.BudgetLimits{TokensPerMinute: 1000, CostPerDay: 2}

	t.Run("TokensSlide", func(t *testing.T) {
		b.Add(ctx, "s", 300, 0) // 23:59:00
		clk.Advance(20 * time.Second)
		b.Add(ctx, "s", 500, 0) // 23:59:20
		clk.Advance(20 * time.Second)
		b.Add(ctx, "s", 400, 0) // 23:59:40, 1200 in the window
		err := b.Check(ctx, "s", limits)
		if switchboard.ErrorCode(err) != switchboard.EBUDGET {
			t.Fatalf("Check = %v", err)
		}
		// Dropping the 300 from 23:59:00 gets under 1000: it leaves at 00:00:00.
		if ra := switchboard.ErrorRetryAfter(err); ra != 20*time.Second {
			t.Fatalf("RetryAfter = %v, want 20s", ra)
		}
		clk.Advance(20 * time.Second) // 00:00:00
		if err := b.Check(ctx, "s", limits); err != nil {
			t.Fatalf("after the window slid: %v", err)
		}
		if sp, _ := b.Spent(ctx, "s"); sp.TokensThisMinute != 900 {
			t.Fatalf("Spent = %+v", sp)
		}
	})

	t.Run("CostResetsAtMidnightUTC", func(t *testing.T) {
		b.Add(ctx, "c", 0, 1.5)                    // 00:00 Mar 2
		clk.Advance(23*time.Hour + 59*time.Minute) // 23:59 Mar 2
		if err := b.Check(ctx, "c", limits); err != nil {
			t.Fatalf("1.5 of 2: %v", err)
		}
		b.Add(ctx, "c", 0, 0.5)
		err := b.Check(ctx, "c", limits)
		if switchboard.ErrorCode(err) != switchboard.EBUDGET || switchboard.ErrorRetryAfter(err) != time.Minute {
			t.Fatalf("Check = %v, RetryAfter %v (want 1m until midnight)", err, switchboard.ErrorRetryAfter(err))
		}
		clk.Advance(time.Minute) // 00:00 Mar 3
		if err := b.Check(ctx, "c", limits); err != nil {
			t.Fatalf("after midnight: %v", err)
		}
		if sp, _ := b.Spent(ctx, "c"); sp.CostToday != 0 {
			t.Fatalf("new day Spent = %+v", sp)
		}
	})

	t.Run("GC", func(t *testing.T) {
		if b.Len() == 0 {
			t.Fatal("no subjects")
		}
		clk.Advance(25 * time.Hour)
		for i := range 1000 {
			b.Spent(ctx, limittest.UniqueKey(string(rune(i))))
		}
		if n := b.Len(); n != 0 {
			t.Fatalf("Len after sweep = %d", n)
		}
	})
}
