package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/switchboard-chat/switchboard/llmsim"
)

// newLLMSimCommand returns `switchboard llmsim`, the simulated model upstream.
func newLLMSimCommand() *cobra.Command {
	var (
		addr     string
		cfg      llmsim.Config
		failMix  string
		logLevel string
	)
	cmd := &cobra.Command{
		Use:   "llmsim",
		Short: "Run the simulated OpenAI/Anthropic/Gemini model upstream",
		Long: `llmsim serves the OpenAI chat completions (POST /v1/chat/completions),
Anthropic Messages (POST /v1/messages) and Gemini generateContent
(POST /v1beta/models/{model}:streamGenerateContent?alt=sse and :generateContent)
wire formats with deterministic text, so tests and benchmarks have a model
upstream that behaves the same on every run.

The reply is --reply split into tokens, or --tokens words derived from the
last user message. A last assistant message (prefill), or a last user message
holding <<<PARTIAL>>>prefix<<<END>>>, asks for the rest of the reply after
that prefix.

Modes (--mode, or per request with the X-Llmsim-Mode header):
  ok                answer normally
  hang              accept and never answer until the client leaves
  error500          500 internal error
  error503          503 unavailable (Anthropic: 529 overloaded_error)
  rate429           429, with Retry-After when --retry-after is set
  reset             close the connection without a response
  cut               --stall-after tokens, then drop the connection
  stall             --stall-after tokens, then silence until the client leaves
  malformed         a non-JSON data line after --stall-after tokens
  no-done           finish_reason and usage but no [DONE]; held open
  context-length    400 context_length_exceeded
  content-filter    400 content_filter
  reject-prefill    400 when the last message is an assistant prefill
  slow-first-token  first token after 10x --ttft (3s when --ttft is 0)
  flap              --flap-every attempts fail with 503, as many succeed, ...
  stream-error      --stall-after tokens, then an in-stream error event

GET /llmsim/stats shows the attempts per model and mode, PUT /llmsim/config
replaces the configuration (JSON, durations as "300ms", per-model overrides
under "models"), POST /llmsim/reset zeroes the counters.`,
		Example: `  switchboard llmsim --addr 127.0.0.1:9001 --ttft 300ms --tokens-per-sec 30
  switchboard llmsim --mode ok --fail-rate 0.3 --fail-mix error500,rate429 --retry-after 1s
  switchboard llmsim --reply "Hello, how can I help?" --chunk-size 2
  curl -X PUT localhost:9001/llmsim/config -d '{"mode":"flap","flap_every":3}'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if failMix != "" {
				cfg.FailMix = strings.Split(failMix, ",")
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level: %w", err)
			}
			logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runLLMSim(ctx, addr, cfg, logger, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:9001", "listen address")
	f.DurationVar(&cfg.TTFT, "ttft", 0, "time to first token")
	f.DurationVar(&cfg.TTFTJitter, "ttft-jitter", 0, "uniform ± jitter of the time to first token")
	f.Float64Var(&cfg.TokensPerSec, "tokens-per-sec", 0, "token rate after the first token (0 = no delay)")
	f.IntVar(&cfg.Tokens, "tokens", llmsim.DefaultTokens, "reply length in tokens when --reply is empty")
	f.StringVar(&cfg.Reply, "reply", "", "fixed reply text")
	f.IntVar(&cfg.ChunkSize, "chunk-size", llmsim.DefaultChunkSize, "tokens per streamed chunk")
	f.StringVar(&cfg.Mode, "mode", llmsim.ModeOK, "behaviour: "+strings.Join(llmsim.Modes(), " | "))
	f.Float64Var(&cfg.FailRate, "fail-rate", 0, "fraction of ok requests that fail with a mode from --fail-mix")
	f.StringVar(&failMix, "fail-mix", "", "comma-separated failure modes for --fail-rate (default error500,error503,rate429)")
	f.DurationVar(&cfg.RetryAfter, "retry-after", 0, "Retry-After of rate429 (0 = no header)")
	f.IntVar(&cfg.StallAfter, "stall-after", 0, "tokens before cut/stall/malformed/stream-error (0 = half the reply)")
	f.IntVar(&cfg.FlapEvery, "flap-every", llmsim.DefaultFlapEvery, "attempts per failing or succeeding phase of flap")
	f.Int64Var(&cfg.Seed, "seed", 0, "seed of fail-rate draws and TTFT jitter")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	return cmd
}

// runLLMSim serves the simulator on addr until ctx is done.
func runLLMSim(ctx context.Context, addr string, cfg llmsim.Config, logger *slog.Logger, out io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("llmsim listen: %w", err)
	}
	sim := llmsim.New(cfg, logger)
	srv := &http.Server{
		Handler:           sim,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	fmt.Fprintf(out, "llmsim listening on http://%s\n", ln.Addr())
	logger.Info("llmsim started", "addr", ln.Addr().String(), "mode", cfg.Mode)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("llmsim serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("llmsim shutting down")
	sim.Close() // release hung and stalled requests so Shutdown can finish
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("llmsim serve: %w", serr)
	}
	if err != nil {
		return fmt.Errorf("llmsim shutdown: %w", err)
	}
	return nil
}
