package llmsim

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Modes of the simulator. Mode "" means ModeOK.
const (
	ModeOK             = "ok"               // answer normally
	ModeHang           = "hang"             // never send headers until the client leaves
	ModeError500       = "error500"         // 500 internal error
	ModeError503       = "error503"         // 503 unavailable (Anthropic: 529 overloaded_error)
	ModeRate429        = "rate429"          // 429, Retry-After when Config.RetryAfter > 0
	ModeReset          = "reset"            // close the TCP connection without a response
	ModeCut            = "cut"              // StallAfter tokens, then close the connection mid-stream
	ModeStall          = "stall"            // StallAfter tokens, then silence until the client leaves
	ModeMalformed      = "malformed"        // a non-JSON data line after StallAfter tokens, then the rest
	ModeNoDone         = "no-done"          // finish_reason and usage but no [DONE] / message_stop; held open
	ModeContextLength  = "context-length"   // 400 context_length_exceeded / prompt is too long
	ModeContentFilter  = "content-filter"   // 400 content_filter
	ModeRejectPrefill  = "reject-prefill"   // 400 when the last message is an assistant prefill, else ok
	ModeSlowFirstToken = "slow-first-token" // headers at once, first token after 10×TTFT (3 s when TTFT is 0)
	ModeFlap           = "flap"             // per model: FlapEvery attempts fail with 503, FlapEvery succeed, …
	ModeStreamError    = "stream-error"     // StallAfter tokens, then an in-stream error event
)

// Modes returns every mode the simulator knows.
func Modes() []string {
	return []string{ModeOK, ModeHang, ModeError500, ModeError503, ModeRate429, ModeReset,
		ModeCut, ModeStall, ModeMalformed, ModeNoDone, ModeContextLength, ModeContentFilter,
		ModeRejectPrefill, ModeSlowFirstToken, ModeFlap, ModeStreamError}
}

func validMode(m string) bool {
	if m == "" {
		return true
	}
	for _, v := range Modes() {
		if v == m {
			return true
		}
	}
	return false
}

// Defaults applied to zero fields.
const (
	DefaultTokens    = 50
	DefaultChunkSize = 1
	DefaultFlapEvery = 5
	slowTTFTFactor   = 10
	slowTTFTDefault  = 3 * time.Second
)

// defaultFailMix is used when FailRate > 0 and FailMix is empty.
func defaultFailMix() []string { return []string{ModeError500, ModeError503, ModeRate429} }

// Config shapes the simulated upstream. The zero value answers at once with
// 50 deterministic tokens, one per chunk.
type Config struct {
	TTFT         time.Duration // wait before the first token
	TTFTJitter   time.Duration // uniform ± around TTFT
	TokensPerSec float64       // 0 = no delay between chunks
	Tokens       int           // reply length when Reply is empty; default 50
	Reply        string        // fixed reply text; "" = derived from the last user message
	ChunkSize    int           // tokens per chunk; default 1
	Mode         string        // one of the Mode* constants; "" = ok
	FailRate     float64       // fraction of requests (in mode ok) that fail with a mode from FailMix
	FailMix      []string      // default error500, error503, rate429
	RetryAfter   time.Duration // Retry-After of rate429; 0 = no header
	StallAfter   int           // tokens sent before cut/stall/malformed/stream-error; 0 = half, <0 = none
	FlapEvery    int           // flap period in attempts; default 5
	Seed         int64         // seeds fail-rate draws and TTFT jitter

	// Models holds per-model overrides: a request for a listed model uses
	// the base config with the override's non-zero fields replacing the
	// base ones. Models of an override are ignored.
	Models map[string]Config
}

// Validate reports an unknown mode or a negative rate.
func (c Config) Validate() error {
	if !validMode(c.Mode) {
		return fmt.Errorf("unknown mode %q (known: %s)", c.Mode, strings.Join(Modes(), ", "))
	}
	for _, m := range c.FailMix {
		if !validMode(m) {
			return fmt.Errorf("unknown fail_mix mode %q", m)
		}
	}
	if c.FailRate < 0 || c.FailRate > 1 {
		return fmt.Errorf("fail_rate %v outside [0, 1]", c.FailRate)
	}
	if c.TokensPerSec < 0 || c.Tokens < 0 || c.ChunkSize < 0 || c.TTFT < 0 || c.TTFTJitter < 0 {
		return fmt.Errorf("negative ttft, tokens, tokens_per_sec or chunk_size")
	}
	for name, m := range c.Models {
		if err := m.Validate(); err != nil {
			return fmt.Errorf("model %q: %w", name, err)
		}
	}
	return nil
}

// clone copies c deeply enough that the caller's slices and maps are not shared.
func (c Config) clone() Config {
	c.FailMix = append([]string(nil), c.FailMix...)
	if c.Models != nil {
		m := make(map[string]Config, len(c.Models))
		for k, v := range c.Models {
			m[k] = v.clone()
		}
		c.Models = m
	}
	return c
}

// override returns c with the non-zero fields of o.
func (c Config) override(o Config) Config {
	if o.TTFT != 0 {
		c.TTFT = o.TTFT
	}
	if o.TTFTJitter != 0 {
		c.TTFTJitter = o.TTFTJitter
	}
	if o.TokensPerSec != 0 {
		c.TokensPerSec = o.TokensPerSec
	}
	if o.Tokens != 0 {
		c.Tokens = o.Tokens
	}
	if o.Reply != "" {
		c.Reply = o.Reply
	}
	if o.ChunkSize != 0 {
		c.ChunkSize = o.ChunkSize
	}
	if o.Mode != "" {
		c.Mode = o.Mode
	}
	if o.FailRate != 0 {
		c.FailRate = o.FailRate
	}
	if len(o.FailMix) != 0 {
		c.FailMix = o.FailMix
	}
	if o.RetryAfter != 0 {
		c.RetryAfter = o.RetryAfter
	}
	if o.StallAfter != 0 {
		c.StallAfter = o.StallAfter
	}
	if o.FlapEvery != 0 {
		c.FlapEvery = o.FlapEvery
	}
	if o.Seed != 0 {
		c.Seed = o.Seed
	}
	c.Models = nil
	return c
}

func (c Config) withDefaults() Config {
	if c.Tokens <= 0 {
		c.Tokens = DefaultTokens
	}
	if c.ChunkSize <= 0 {
		c.ChunkSize = DefaultChunkSize
	}
	if c.Mode == "" {
		c.Mode = ModeOK
	}
	if c.FlapEvery <= 0 {
		c.FlapEvery = DefaultFlapEvery
	}
	if len(c.FailMix) == 0 {
		c.FailMix = defaultFailMix()
	}
	return c
}

// configJSON is the wire form of Config: durations as Go duration strings
// ("300ms"); numbers are accepted as nanoseconds.
type configJSON struct {
	TTFT         jsonDuration      `json:"ttft,omitempty"`
	TTFTJitter   jsonDuration      `json:"ttft_jitter,omitempty"`
	TokensPerSec float64           `json:"tokens_per_sec,omitempty"`
	Tokens       int               `json:"tokens,omitempty"`
	Reply        string            `json:"reply,omitempty"`
	ChunkSize    int               `json:"chunk_size,omitempty"`
	Mode         string            `json:"mode,omitempty"`
	FailRate     float64           `json:"fail_rate,omitempty"`
	FailMix      []string          `json:"fail_mix,omitempty"`
	RetryAfter   jsonDuration      `json:"retry_after,omitempty"`
	StallAfter   int               `json:"stall_after,omitempty"`
	FlapEvery    int               `json:"flap_every,omitempty"`
	Seed         int64             `json:"seed,omitempty"`
	Models       map[string]Config `json:"models,omitempty"`
}

// MarshalJSON writes durations as strings and omits zero fields.
func (c Config) MarshalJSON() ([]byte, error) {
	return json.Marshal(configJSON{
		TTFT: jsonDuration(c.TTFT), TTFTJitter: jsonDuration(c.TTFTJitter),
		TokensPerSec: c.TokensPerSec, Tokens: c.Tokens, Reply: c.Reply, ChunkSize: c.ChunkSize,
		Mode: c.Mode, FailRate: c.FailRate, FailMix: c.FailMix, RetryAfter: jsonDuration(c.RetryAfter),
		StallAfter: c.StallAfter, FlapEvery: c.FlapEvery, Seed: c.Seed, Models: c.Models,
	})
}

// UnmarshalJSON reads the form MarshalJSON writes.
func (c *Config) UnmarshalJSON(b []byte) error {
	var j configJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*c = Config{
		TTFT: time.Duration(j.TTFT), TTFTJitter: time.Duration(j.TTFTJitter),
		TokensPerSec: j.TokensPerSec, Tokens: j.Tokens, Reply: j.Reply, ChunkSize: j.ChunkSize,
		Mode: j.Mode, FailRate: j.FailRate, FailMix: j.FailMix, RetryAfter: time.Duration(j.RetryAfter),
		StallAfter: j.StallAfter, FlapEvery: j.FlapEvery, Seed: j.Seed, Models: j.Models,
	}
	return nil
}

type jsonDuration time.Duration

func (d jsonDuration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

func (d *jsonDuration) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		*d = jsonDuration(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("duration: want a string like \"300ms\" or nanoseconds: %w", err)
	}
	*d = jsonDuration(n)
	return nil
}
