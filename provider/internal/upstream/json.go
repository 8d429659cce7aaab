package upstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// errTrailingData is returned for an event with more than one JSON value.
var errTrailingData = errors.New("json: data after the value")

// JSONDecoder decodes the JSON value of each event of a stream, reusing one
// json.Decoder (its scanner and decode state) for all of them: json.Unmarshal
// would allocate those for every chunk. After an error it stays failed.
type JSONDecoder struct {
	dec *json.Decoder
	src feed
	fed int64
}

type feed struct{ b []byte }

func (f *feed) Read(p []byte) (int, error) {
	if len(f.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, f.b)
	f.b = f.b[n:]
	return n, nil
}

// NewJSONDecoder returns a decoder for the events of one stream.
func NewJSONDecoder() *JSONDecoder {
	d := &JSONDecoder{}
	d.dec = json.NewDecoder(&d.src)
	return d
}

// Decode decodes data, which must hold exactly one JSON value, into v.
func (d *JSONDecoder) Decode(data []byte, v any) error {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return io.ErrUnexpectedEOF
	}
	d.src.b = data
	d.fed += int64(len(data))
	if err := d.dec.Decode(v); err != nil {
		return err
	}
	if d.dec.InputOffset() != d.fed || len(d.src.b) != 0 {
		return errTrailingData
	}
	return nil
}
