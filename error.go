package switchboard

import (
	"errors"
	"fmt"
	"time"
)

// Error codes. They are the wire codes of DESIGN.md: the http package maps
// each to a status code and they appear verbatim in error frames.
const (
	EINVALID       = "invalid"              // 400 malformed input
	EUNAUTHORIZED  = "unauthorized"         // 401 no, bad or expired token
	EFORBIDDEN     = "forbidden"            // 403 wrong origin or role
	ENOTFOUND      = "not_found"            // 404
	EMODELNOTFOUND = "model_not_found"      // 404 unknown route or alias
	ECONFLICT      = "conflict"             // 409 compare-and-swap lost
	ETOOLARGE      = "too_large"            // 413
	EBLOCKED       = "blocked"              // 422 moderation
	ERATELIMITED   = "rate_limited"         // 429
	EBUDGET        = "budget_exceeded"      // 429
	EUNAVAILABLE   = "upstream_unavailable" // 503 no provider could answer
	EINTERRUPTED   = "interrupted"          // a stream was cut and could not be continued
	ECONTENTFILTER = "content_filter"       // the provider refused on policy grounds
	EINTERNAL      = "internal"             // 500; details are logged, never sent
)

// Error is the application error. Message is safe to show to a client.
type Error struct {
	Code       string
	Message    string
	RetryAfter time.Duration // for rate_limited, budget_exceeded, upstream_unavailable
}

func (e *Error) Error() string {
	return fmt.Sprintf("switchboard: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other non-nil error and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of err.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// ErrorRetryAfter returns the retry hint carried by err, or 0.
func ErrorRetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	var pe *ProviderError
	if errors.As(err, &pe) {
		return pe.RetryAfter
	}
	return 0
}
