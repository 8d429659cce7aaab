package provider

import (
	"sync"
	"unicode/utf8"

	"github.com/pkoukk/tiktoken-go"
	tiktoken_loader "github.com/pkoukk/tiktoken-go-loader"
	"github.com/switchboard-chat/switchboard"
)

// setBPELoader installs the offline BPE loader in tiktoken-go. The loader is
// process-global in that library (the one piece of global state this
// package touches); the embedded loader never downloads anything, so any
// number of routers may set it.
var setBPELoader = sync.OnceFunc(func() {
	tiktoken.SetBpeLoader(tiktoken_loader.NewOfflineLoader())
})

// Per-message overhead of the chat format, as OpenAI counts it.
const (
	tokensPerMessage = 3
	tokensPerReply   = 3
)

// estimator counts tokens with cl100k_base when a provider reports no
// usage. The encoding is loaded on first use.
type estimator struct {
	once sync.Once
	enc  *tiktoken.Tiktoken
}

func (e *estimator) count(s string) int {
	if s == "" {
		return 0
	}
	e.once.Do(func() {
		setBPELoader()
		e.enc, _ = tiktoken.GetEncoding("cl100k_base")
	})
	if e.enc == nil {
		// Cannot happen with the embedded loader; a rough guess.
		return utf8.RuneCountInString(s)/4 + 1
	}
	return len(e.enc.EncodeOrdinary(s))
}

// prompt estimates the prompt tokens of req.
func (e *estimator) prompt(req *switchboard.ChatRequest) int {
	n := tokensPerReply
	for _, m := range req.Messages {
		n += tokensPerMessage + e.count(m.Content)
	}
	if req.Prefill != "" {
		n += tokensPerMessage + e.count(req.Prefill)
	}
	return n
}
