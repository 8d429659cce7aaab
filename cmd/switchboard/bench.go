package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/switchboard-chat/switchboard/bench"
)

// newBenchCommand returns `switchboard bench`, the load generator.
func newBenchCommand() *cobra.Command {
	var (
		cfg                   bench.Config
		jsonOut               bool
		markdown, html, title string
		worker                bool
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load-test a Switchboard server (and compare with the upstream alone)",
		Long: `bench runs virtual users against a Switchboard server and reports time to
first token, inter-token gap and total time (p50/p90/p99/p99.9/max), success
rate, errors by class, streams and tokens per second, bytes per reply and the
server's RSS and CPU.

Scenarios:
  ws-chat           visitor session, WebSocket hello, message, start/delta/done
  sse-chat          POST /v1/conversations/{id}/messages, Accept: text/event-stream
  openai-stream     POST /v1/chat/completions, stream: true, with an API key
  idle-connections  open --connections sockets (spread over worker processes) and hold them
  mixed             half WebSocket, a quarter SSE, a quarter OpenAI API

Without --target it starts its own llmsim and "switchboard serve" as children
of this binary on free loopback ports, with a temporary data directory and a
config whose default route points at the llmsim (shaped by --ttft,
--tokens-per-sec, --tokens, --chunk-size, --fail-rate, ...). That server has
limits.messages and limits.ws_per_ip raised so the run measures throughput,
not the per-visitor rate limit. Only loopback is loaded unless --target is
given explicitly. Every run stops by itself (--duration or --requests).

--baseline direct runs the same load straight at the llmsim (its OpenAI
streaming endpoint) in the same run and prints Switchboard's overhead.`,
		Example: `  switchboard bench --scenario ws-chat -c 50 -d 20s --tokens 50 --baseline direct
  switchboard bench --scenario ws-chat -c 100 -d 60s --think-time 3s --ttft 300ms --tokens-per-sec 30 --baseline direct
  switchboard bench --scenario idle-connections --connections 18000 -d 30s
  switchboard bench --scenario ws-chat --fail-rate 0.3 --secondary --baseline direct
  switchboard bench --target http://127.0.0.1:8080 --widget-key wk_… -c 20 -d 30s --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if worker {
				return bench.RunWorker(ctx, bench.WorkerConfig{Target: cfg.Target, Remote: cfg.Remote, WidgetKey: cfg.WidgetKey,
					Connections: cfg.Connections, RampUp: cfg.RampUp}, os.Stdin, cmd.OutOrStdout())
			}
			if cmd.Flags().Changed("target") {
				cfg.Remote = true
			}
			if cfg.APIKey == "" {
				cfg.APIKey = os.Getenv("SWITCHBOARD_BENCH_API_KEY")
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("bench: find this binary: %w", err)
			}
			cfg.Binary = exe
			cfg.Log = cmd.ErrOrStderr()
			if f, ok := cfg.Log.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				cfg.Terminal = true
			}
			rep, err := bench.Run(ctx, cfg)
			if rep == nil {
				return err
			}
			rep.Command = "switchboard " + strings.Join(os.Args[1:], " ")
			out := cmd.OutOrStdout()
			if jsonOut {
				if werr := rep.WriteJSON(out); werr != nil {
					return werr
				}
			} else if werr := rep.WriteTable(out); werr != nil {
				return werr
			}
			if markdown != "" {
				f, ferr := os.OpenFile(markdown, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
				if ferr != nil {
					return ferr
				}
				if werr := rep.WriteMarkdown(f, title); werr != nil {
					f.Close()
					return werr
				}
				if cerr := f.Close(); cerr != nil {
					return cerr
				}
			}
			if html != "" {
				f, ferr := os.Create(html)
				if ferr != nil {
					return ferr
				}
				if werr := rep.WriteHTML(f); werr != nil {
					f.Close()
					return werr
				}
				if cerr := f.Close(); cerr != nil {
					return cerr
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVarP(&cfg.Scenario, "scenario", "s", bench.ScenarioWS, "scenario: "+strings.Join(bench.Scenarios(), " | "))
	f.IntVarP(&cfg.Concurrency, "concurrency", "c", 10, "virtual users (concurrent streams)")
	f.DurationVarP(&cfg.Duration, "duration", "d", 0, "how long to run (idle-connections: how long to hold); default 10s unless --requests")
	f.IntVarP(&cfg.Requests, "requests", "n", 0, "stop after this many turns in all (instead of --duration)")
	f.DurationVar(&cfg.RampUp, "ramp-up", 0, "start users (or open sockets) evenly over this time")
	f.DurationVar(&cfg.ThinkTime, "think-time", 0, "mean pause between a user's turns (uniform ±50%)")
	f.IntVar(&cfg.MessageSize, "message-size", 64, "bytes per visitor message")
	f.IntVar(&cfg.Turns, "turns", 10, "turns per visitor session before a new visitor (0 = one session per user)")
	f.DurationVar(&cfg.Timeout, "timeout", 0, "per-turn timeout (default 60s)")
	f.IntVar(&cfg.Connections, "connections", 1000, "idle-connections: sockets to hold")
	f.IntVar(&cfg.ConnsPerWorker, "conns-per-worker", 5000, "idle-connections: sockets per worker process (below the open-file limit)")
	f.StringVar(&cfg.Target, "target", "", "Switchboard base URL, or several separated by commas (users spread round robin over the instances); default: start a local server and llmsim")
	f.StringVar(&cfg.WidgetKey, "widget-key", "", "with --target: widget key of the inbox to chat with")
	f.StringVar(&cfg.APIKey, "api-key", "", "with --target: API key for openai-stream (or SWITCHBOARD_BENCH_API_KEY)")
	f.StringVar(&cfg.Model, "model", "default", "openai-stream: model (route) name")
	f.StringVar(&cfg.Baseline, "baseline", "", `"direct": the same load straight at llmsim, with the overhead`)
	f.StringVar(&cfg.DirectURL, "direct-url", "", "with --target and --baseline direct: the llmsim base URL")
	f.DurationVar(&cfg.Sim.TTFT, "ttft", 0, "llmsim: time to first token")
	f.DurationVar(&cfg.Sim.TTFTJitter, "ttft-jitter", 0, "llmsim: uniform ± jitter of the time to first token")
	f.Float64Var(&cfg.Sim.TokensPerSec, "tokens-per-sec", 0, "llmsim: token rate (0 = no delay)")
	f.IntVar(&cfg.Sim.Tokens, "tokens", 50, "llmsim: reply length in tokens")
	f.StringVar(&cfg.Sim.Reply, "reply", "", "llmsim: fixed reply text")
	f.IntVar(&cfg.Sim.ChunkSize, "chunk-size", 1, "llmsim: tokens per chunk")
	f.StringVar(&cfg.Sim.Mode, "mode", "", "llmsim: mode of the primary (ok, error503, ...)")
	f.Float64Var(&cfg.Sim.FailRate, "fail-rate", 0, "llmsim: fraction of requests the primary fails")
	f.StringVar(&cfg.Sim.FailMix, "fail-mix", "", "llmsim: failure modes for --fail-rate (default error500,error503,rate429)")
	f.BoolVar(&cfg.Secondary, "secondary", false, "start a second, healthy llmsim as the route's second target (failover)")
	f.BoolVar(&jsonOut, "json", false, "print the report as JSON")
	f.StringVar(&markdown, "markdown", "", "append the report as a Markdown section to this file")
	f.StringVar(&title, "title", "", "title of the Markdown section")
	f.StringVar(&html, "html", "", "write an HTML report (histograms, throughput over time) to this file")
	f.BoolVar(&worker, "worker", false, "run as an idle-connections worker of a parent bench")
	f.BoolVar(&cfg.Remote, "remote", false, "allow a non-loopback target (set by --target)")
	_ = f.MarkHidden("worker")
	_ = f.MarkHidden("remote")
	return cmd
}
