// Package upstream is the plumbing the provider wire clients share: a
// server-sent-events reader, HTTP error classification and rate-limit
// header parsing.
package upstream

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
)

// sseBufferSize is the bufio buffer of an SSE reader; longer lines are
// assembled in the reader's own buffer.
const sseBufferSize = 16 << 10

// maxEventSize bounds one event's data; a longer event is malformed.
const maxEventSize = 4 << 20

// ErrEventTooLarge is returned for an event whose data exceeds 4 MiB.
var ErrEventTooLarge = errors.New("sse: event too large")

// SSEReader reads server-sent events. It allocates only when an event grows
// past the size of any earlier one: the slices it returns are valid until
// the next call of Next.
type SSEReader struct {
	r     *bufio.Reader
	data  []byte
	event []byte
	line  []byte
}

// NewSSEReader returns a reader of the events in r.
func NewSSEReader(r io.Reader) *SSEReader {
	return &SSEReader{r: bufio.NewReaderSize(r, sseBufferSize)}
}

// Next returns the next event's name (empty when the event has none) and
// its data lines joined with "\n". Comments and events without data are
// skipped. At the end of the body it returns io.EOF; when the body ends
// inside an event (a line without its newline), io.ErrUnexpectedEOF. A read
// error is returned as it is.
func (s *SSEReader) Next() (event, data []byte, err error) {
	s.data = s.data[:0]
	s.event = s.event[:0]
	hasData := false
	for {
		line, err := s.readLine()
		if err != nil {
			if err == io.EOF {
				if len(line) > 0 {
					return nil, nil, io.ErrUnexpectedEOF
				}
				if hasData {
					// Body ended after complete lines without the blank
					// line: dispatch what we have (lenient).
					return s.event, s.data, nil
				}
			}
			return nil, nil, err
		}
		if len(line) == 0 {
			if hasData {
				return s.event, s.data, nil
			}
			s.event = s.event[:0]
			continue
		}
		if line[0] == ':' {
			continue // comment
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(field) {
		case "data":
			if hasData {
				s.data = append(s.data, '\n')
			}
			if len(s.data)+len(value) > maxEventSize {
				return nil, nil, ErrEventTooLarge
			}
			s.data = append(s.data, value...)
			hasData = true
		case "event":
			s.event = append(s.event[:0], value...)
		}
	}
}

// readLine returns one line without its terminator ("\n", "\r\n"). At EOF
// it returns the unterminated rest (maybe empty) with io.EOF.
func (s *SSEReader) readLine() ([]byte, error) {
	line, err := s.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		s.line = append(s.line[:0], line...)
		for err == bufio.ErrBufferFull {
			line, err = s.r.ReadSlice('\n')
			if len(s.line)+len(line) > maxEventSize {
				return nil, ErrEventTooLarge
			}
			s.line = append(s.line, line...)
		}
		line = s.line
	}
	if err != nil {
		return line, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// NextData returns the data of the next event, or the failure to read it
// as a *ProviderError: a body that ends is FailCut (the caller decides
// first whether the answer was complete), a broken one a read error.
func (r *SSEReader) NextData(ctx context.Context, provider, model string) ([]byte, error) {
	_, data, err := r.Next()
	switch {
	case err == nil:
		return data, nil
	case errors.Is(err, io.EOF):
		return nil, Cut(provider, model, io.ErrUnexpectedEOF)
	}
	return nil, ReadError(ctx, provider, model, err)
}
