package upstream_test

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/switchboard-chat/switchboard/provider/internal/upstream"
)

type ev struct{ event, data string }

func readAll(r io.Reader) (evs []ev, err error) {
	s := upstream.NewSSEReader(r)
	for {
		e, d, err := s.Next()
		if err != nil {
			return evs, err
		}
		evs = append(evs, ev{string(e), string(d)})
	}
}

func TestSSEReader(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		want     []ev
		err      error
	}{
		{"LF", "data: a\n\ndata: b\n\n", []ev{{"", "a"}, {"", "b"}}, io.EOF},
		{"CRLF", "data: a\r\n\r\nevent: x\r\ndata: b\r\n\r\n", []ev{{"", "a"}, {"x", "b"}}, io.EOF},
		{"MultiLine", "data: a\ndata: b\n\n", []ev{{"", "a\nb"}}, io.EOF},
		{"CommentsAndEmpty", ": ping\n\nevent: ping\n\ndata:x\n\n", []ev{{"", "x"}}, io.EOF},
		{"NoTrailingBlank", "data: a\n", []ev{{"", "a"}}, io.EOF},
		{"CutMidLine", "data: a\n\ndata: {\"b", []ev{{"", "a"}}, io.ErrUnexpectedEOF},
		{"Long", "data: " + strings.Repeat("x", 100000) + "\n\n", []ev{{"", strings.Repeat("x", 100000)}}, io.EOF},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, r := range []io.Reader{strings.NewReader(tt.in), iotest.OneByteReader(strings.NewReader(tt.in))} {
				got, err := readAll(r)
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				if len(got) != len(tt.want) {
					t.Fatalf("events = %q, want %q", got, tt.want)
				}
				for i := range got {
					if got[i] != tt.want[i] {
						t.Fatalf("event %d = %q, want %q", i, got[i], tt.want[i])
					}
				}
			}
		})
	}
}

func FuzzSSEReader(f *testing.F) {
	f.Add("data: a\n\ndata: b\r\n\r\n")
	f.Add("event: x\ndata: {\"a\":1}\n\n: c\n")
	f.Fuzz(func(t *testing.T, in string) {
		evs, err := readAll(strings.NewReader(in))
		if err == nil {
			t.Fatal("reader ended without an error")
		}
		total := 0
		for _, e := range evs {
			total += len(e.data)
		}
		if total > len(in) {
			t.Fatalf("%d bytes of data from %d bytes of input", total, len(in))
		}
	})
}

func TestJSONDecoder(t *testing.T) {
	d := upstream.NewJSONDecoder()
	var v struct {
		A string `json:"a"`
	}
	for _, s := range []string{`{"a":"x"}`, " {\"a\":\"y\"}\n", `{"a":"z","b":[1,2,{"c":null}]}`} {
		v.A = ""
		if err := d.Decode([]byte(s), &v); err != nil {
			t.Fatal(err)
		}
	}
	if v.A != "z" {
		t.Fatalf("a = %q", v.A)
	}
	if err := d.Decode([]byte(`{"a":"x"} {"a":"y"}`), &v); err == nil {
		t.Fatal("two values decoded as one")
	}
	if err := upstream.NewJSONDecoder().Decode([]byte(`{"a":`), &v); err == nil {
		t.Fatal("truncated value decoded")
	}
	if err := upstream.NewJSONDecoder().Decode([]byte(`{not json`), &v); err == nil {
		t.Fatal("garbage decoded")
	}
}
