package http

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	sb "github.com/switchboard-chat/switchboard"
)

// codes maps application error codes to HTTP status codes (DESIGN.md).
var codes = map[string]int{
	sb.EINVALID:       http.StatusBadRequest,
	sb.EUNAUTHORIZED:  http.StatusUnauthorized,
	sb.EFORBIDDEN:     http.StatusForbidden,
	sb.ENOTFOUND:      http.StatusNotFound,
	sb.EMODELNOTFOUND: http.StatusNotFound,
	sb.ECONFLICT:      http.StatusConflict,
	sb.ETOOLARGE:      http.StatusRequestEntityTooLarge,
	sb.EBLOCKED:       http.StatusUnprocessableEntity,
	sb.ECONTENTFILTER: http.StatusUnprocessableEntity,
	sb.ERATELIMITED:   http.StatusTooManyRequests,
	sb.EBUDGET:        http.StatusTooManyRequests,
	sb.EUNAVAILABLE:   http.StatusServiceUnavailable,
	sb.EINTERRUPTED:   http.StatusBadGateway,
	sb.EINTERNAL:      http.StatusInternalServerError,
}

// ErrorStatus returns the HTTP status of an application error code.
func ErrorStatus(code string) int {
	if s, ok := codes[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// writeError writes err as {"error":{"code","message"}} with its status,
// and Retry-After where it applies. Internal errors are logged in full and
// reported as "Internal error.".
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code, msg := sb.ErrorCode(err), sb.ErrorMessage(err)
	status := ErrorStatus(code)
	if code == sb.EINTERNAL {
		s.logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "request_id", requestID(r.Context()), "err", err)
	}
	if ra := sb.ErrorRetryAfter(err); ra > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((ra+time.Second-1)/time.Second)))
	} else if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "3")
	}
	var body errorBody
	body.Error.Code, body.Error.Message = code, msg
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		slog.Debug("write json", "err", err)
	}
}

// decodeJSON reads a JSON body of at most max bytes into v: 413 when too
// large, 400 when malformed.
func decodeJSON(w http.ResponseWriter, r *http.Request, max int64, v any) error {
	r.Body = http.MaxBytesReader(w, r.Body, max)
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if asMaxBytes(err, &mbe) {
			return sb.Errorf(sb.ETOOLARGE, "Request body is larger than %d bytes.", max)
		}
		return sb.Errorf(sb.EINVALID, "Malformed JSON body: %s.", trimErr(err))
	}
	return nil
}

func trimErr(err error) string {
	s := err.Error()
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}
