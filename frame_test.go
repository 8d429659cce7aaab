package switchboard_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	sb "github.com/switchboard-chat/switchboard"
)

func TestDeltaJSON(t *testing.T) {
	f := sb.Frame{Type: sb.FrameDelta, Seq: 45, MessageID: "01J", Offset: 3, Payload: "lo \"wörld\" <b>\n\u2028"}
	var got map[string]any
	if err := json.Unmarshal(f.AppendJSON(nil), &got); err != nil {
		t.Fatal(err)
	}
	if got["type"] != "delta" || got["seq"] != 45.0 || got["message_id"] != "01J" || got["offset"] != 3.0 || got["payload"] != f.Payload {
		t.Fatalf("decoded %v", got)
	}
}

func TestErrorFrameJSON(t *testing.T) {
	f := sb.Frame{Type: sb.FrameError, Seq: 53, MessageID: "m", Code: sb.EUNAVAILABLE, Text: "No model.", RetryAfter: 3}
	var got map[string]any
	if err := json.Unmarshal(f.AppendJSON(nil), &got); err != nil {
		t.Fatal(err)
	}
	// DESIGN.md: the error text is "message", next to "code" and "retry_after".
	if got["message"] != "No model." || got["code"] != "upstream_unavailable" || got["retry_after"] != 3.0 || got["seq"] != 53.0 {
		t.Fatalf("decoded %v", got)
	}
	// A frame-level error carries no seq.
	b := (&sb.Frame{Type: sb.FrameError, Code: sb.EINVALID, Text: "bad"}).AppendJSON(nil)
	var fl map[string]any
	if json.Unmarshal(b, &fl) != nil || fl["seq"] != nil || fl["code"] != "invalid" {
		t.Fatalf("frame-level error %s", b)
	}
}

// FuzzAppendJSONString: the hand-written encoder always produces valid JSON
// that decodes to the input (invalid UTF-8 becomes U+FFFD, as with
// encoding/json).
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote\" back\\slash", "\x00\x1f\x7f", "<>&", "中文\u2028\u2029", "\xff\xfe", "a\xc3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := sb.AppendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("invalid JSON %q for %q: %v", b, s, err)
		}
		want, _ := json.Marshal(s)
		var wantS string
		json.Unmarshal(want, &wantS)
		if got != wantS {
			t.Fatalf("round trip of %q: got %q, want %q", s, got, wantS)
		}
	})
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	base := time.Now()
	for i := 0; i < 1000; i++ {
		id := sb.NewIDAt(base.Add(time.Duration(i) * time.Millisecond))
		if len(id) != 26 || seen[id] {
			t.Fatalf("id %q (len %d, seen %v)", id, len(id), seen[id])
		}
		if id <= prev {
			t.Fatalf("ids not sortable by time: %q after %q", id, prev)
		}
		seen[id], prev = true, id
	}
}

func TestErrorHelpers(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", &sb.Error{Code: sb.ERATELIMITED, Message: "Slow down.", RetryAfter: 2 * time.Second})
	if sb.ErrorCode(err) != sb.ERATELIMITED || sb.ErrorMessage(err) != "Slow down." || sb.ErrorRetryAfter(err) != 2*time.Second {
		t.Fatalf("%s / %s / %v", sb.ErrorCode(err), sb.ErrorMessage(err), sb.ErrorRetryAfter(err))
	}
	plain := errors.New("disk on fire")
	if sb.ErrorCode(plain) != sb.EINTERNAL || sb.ErrorMessage(plain) != "Internal error." {
		t.Fatal("unknown errors must be internal and not leak their text")
	}
	if sb.ErrorCode(nil) != "" {
		t.Fatal("nil has no code")
	}
	pe := &sb.ProviderError{Provider: "p", Class: sb.FailRateLimited, RetryAfter: time.Second}
	if sb.ErrorRetryAfter(fmt.Errorf("x: %w", pe)) != time.Second {
		t.Fatal("provider retry-after not found")
	}
}
