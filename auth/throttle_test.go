package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/auth"
	"github.com/switchboard-chat/switchboard/limit"
)

func TestThrottle(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	th := auth.NewThrottle(limit.NewMemory(clk.Now), auth.ThrottleOptions{})

	mustAllow := func(email, ip string) {
		t.Helper()
		if err := th.Check(ctx, email, ip); err != nil {
			t.Fatalf("Check(%q, %q) = %v", email, ip, err)
		}
	}
	mustDeny := func(email, ip string) time.Duration {
		t.Helper()
		err := th.Check(ctx, email, ip)
		if switchboard.ErrorCode(err) != switchboard.ERATELIMITED {
			t.Fatalf("Check(%q, %q) = %v, want %s", email, ip, err, switchboard.ERATELIMITED)
		}
		return switchboard.ErrorRetryAfter(err)
	}

	// Successes (Check without Fail) never count.
	for range 20 {
		mustAllow("ada@example.com", "10.0.0.1")
	}
	for range 5 {
		mustAllow("ada@example.com", "10.0.0.1")
		if err := th.Fail(ctx, "Ada@Example.com ", "10.0.0.1"); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
	}
	// The first failure was at +0, now is +5 min: it frees at +15 min.
	if got := mustDeny("ada@example.com", "10.9.9.9"); got != 10*time.Minute {
		t.Fatalf("RetryAfter = %v, want 10m", got)
	}
	mustDeny("bob@example.com", "10.0.0.1") // the IP is locked too
	mustAllow("bob@example.com", "10.0.0.2")

	clk.Advance(10 * time.Minute) // the first failure leaves the window
	mustAllow("ada@example.com", "10.0.0.1")
	if err := th.Fail(ctx, "ada@example.com", "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	mustDeny("ada@example.com", "")
	clk.Advance(15 * time.Minute)
	mustAllow("ada@example.com", "10.0.0.1")
}
