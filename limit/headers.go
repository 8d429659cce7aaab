package limit

import (
	"net/http"
	"strconv"
	"time"

	"github.com/switchboard-chat/switchboard"
)

// SetHeaders writes d as the RateLimit-Limit, RateLimit-Remaining and
// RateLimit-Reset headers (IETF draft-ietf-httpapi-ratelimit-headers;
// seconds, rounded up) and, when d denies, Retry-After (seconds, rounded
// up, at least 1). A decision without a limit writes only Retry-After.
func SetHeaders(h http.Header, d switchboard.Decision) {
	if d.Limit > 0 {
		h.Set("RateLimit-Limit", strconv.Itoa(d.Limit))
		h.Set("RateLimit-Remaining", strconv.Itoa(max(0, d.Remaining)))
		h.Set("RateLimit-Reset", strconv.FormatInt(ceilSeconds(d.Reset), 10))
	}
	if !d.Allowed {
		h.Set("Retry-After", strconv.FormatInt(max(1, ceilSeconds(d.RetryAfter)), 10))
	}
}

// ceilSeconds rounds d up to whole seconds; negative durations are 0.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}
