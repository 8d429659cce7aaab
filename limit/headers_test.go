package limit_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/limit"
)

func TestSetHeaders(t *testing.T) {
	for _, tt := range []struct {
		name string
		d    switchboard.Decision
		want map[string]string
	}{
		{"Allowed", switchboard.Decision{Allowed: true, Limit: 30, Remaining: 29, Reset: 59*time.Second + time.Millisecond},
			map[string]string{"RateLimit-Limit": "30", "RateLimit-Remaining": "29", "RateLimit-Reset": "60", "Retry-After": ""}},
		{"Denied", switchboard.Decision{Limit: 30, RetryAfter: 1500 * time.Millisecond, Reset: 58 * time.Second},
			map[string]string{"RateLimit-Limit": "30", "RateLimit-Remaining": "0", "RateLimit-Reset": "58", "Retry-After": "2"}},
		{"DeniedTiny", switchboard.Decision{Limit: 1, RetryAfter: time.Microsecond, Reset: time.Microsecond},
			map[string]string{"RateLimit-Reset": "1", "Retry-After": "1"}},
		{"DeniedZero", switchboard.Decision{Limit: 1},
			map[string]string{"RateLimit-Reset": "0", "Retry-After": "1"}},
		{"NoLimit", switchboard.Decision{Allowed: true},
			map[string]string{"RateLimit-Limit": "", "RateLimit-Remaining": "", "Retry-After": ""}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			limit.SetHeaders(h, tt.d)
			for k, v := range tt.want {
				if got := h.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}
