package openai_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/llmsim"
	"github.com/switchboard-chat/switchboard/provider/openai"
)

// TestConnectionReuse: a stream that ends at its usage chunk still reads
// the trailing [DONE], so the connection returns to the pool: sequential
// requests share one TCP connection instead of paying a handshake each.
func TestConnectionReuse(t *testing.T) {
	sim := llmsim.New(llmsim.Config{Tokens: 20}, nil)
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(sim)
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	c := openai.New(openai.Options{Name: "sim", BaseURL: srv.URL + "/v1"})
	for i := 0; i < 5; i++ {
		st, err := c.Stream(context.Background(), &switchboard.ChatRequest{Model: "m", Messages: []switchboard.ChatMessage{{Role: "user", Content: "hello"}}})
		if err != nil {
			t.Fatal(err)
		}
		var final switchboard.Chunk
		for {
			ch, err := st.Recv()
			if ch.FinishReason != "" {
				final = ch
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		st.Close()
		if final.Usage == nil || final.FinishReason != "stop" {
			t.Fatalf("final chunk %+v", final)
		}
		// The drain runs in the background: wait until the server saw the
		// response complete before the next request.
		if err := sim.Wait(context.Background(), func(s llmsim.Stats) bool { return s.Completed+s.Cancelled == int64(i+1) }); err != nil {
			t.Fatal(err)
		}
	}
	if n := sim.Cancelled(); n != 0 {
		t.Fatalf("%d requests cut short by the client", n)
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for 5 sequential requests, want 1", n)
	}
}
