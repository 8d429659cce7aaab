// Command switchboard is the Switchboard AI chat and customer-service
// server, its admin tools, the llmsim upstream simulator and the bench.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// Set by -ldflags "-X main.version=… -X main.commit=…".
var (
	version = "dev"
	commit  = ""
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	root := newRootCommand()
	err := root.ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "switchboard:", err)
		os.Exit(1)
	}
}

// globals are flags shared by the commands that use the configuration.
type globals struct {
	config      string
	addr        string
	dataDir     string
	databaseURL string
	redisURL    string
	logFormat   string
	logLevel    string
	jsonOut     bool
}

func newRootCommand() *cobra.Command {
	g := &globals{}
	serve := newServeCommand(g)
	root := &cobra.Command{
		Use:   "switchboard",
		Short: "Self-hosted AI chat and customer-service server",
		Long: `Switchboard serves an embeddable chat widget whose AI assistant streams its
answers, hands conversations to human agents in the agent console, and
exposes an OpenAI-compatible API — one binary, SQLite by default,
PostgreSQL + Redis to scale out.

With no arguments it runs "serve" with zero configuration.`,
		Example: `  switchboard                      # serve on :8080 with ./data
  switchboard serve --config switchboard.yaml
  switchboard user add --email ana@example.com --role agent`,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE:          serve.RunE,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.config, "config", "", "config file (default ./switchboard.yaml if present; env SWITCHBOARD_CONFIG)")
	pf.StringVar(&g.dataDir, "data-dir", "", "data directory for SQLite and generated secrets (default ./data)")
	pf.StringVar(&g.databaseURL, "database-url", "", "PostgreSQL URL (postgres://…): use PostgreSQL instead of SQLite")
	pf.StringVar(&g.redisURL, "redis-url", "", "Redis URL (redis://…): shared cache, limits and fan-out")
	pf.StringVar(&g.logFormat, "log-format", "", "log format: auto, text or json")
	pf.StringVar(&g.logLevel, "log-level", "", "log level: debug, info, warn or error")
	root.Flags().StringVar(&g.addr, "addr", "", "listen address (default :8080)")
	root.AddCommand(serve, newMigrateCommand(g), newVersionCommand(), newUserCommand(g), newInboxCommand(g),
		newAPIKeyCommand(g), newKBCommand(g), newLLMSimCommand(), newBenchCommand())
	return root
}

// load reads the configuration and applies flags given on the command line.
func (g *globals) load(cmd *cobra.Command) (Config, error) {
	cfg, err := LoadConfig(g.config, os.Getenv)
	if err != nil {
		return cfg, err
	}
	set := func(name string, dst *string, v string) {
		if f := cmd.Flags().Lookup(name); f != nil && f.Changed {
			*dst = v
		}
	}
	set("addr", &cfg.Addr, g.addr)
	set("data-dir", &cfg.DataDir, g.dataDir)
	set("database-url", &cfg.DatabaseURL, g.databaseURL)
	set("redis-url", &cfg.RedisURL, g.redisURL)
	set("log-format", &cfg.LogFormat, g.logFormat)
	set("log-level", &cfg.LogLevel, g.logLevel)
	return cfg, cfg.Validate()
}

// newLogger returns a slog logger: text on a terminal, JSON otherwise.
func newLogger(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	switch strings.ToLower(level) {
	case "debug":
		lv = slog.LevelDebug
	case "warn":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	default:
		lv = slog.LevelInfo
	}
	if format == "auto" || format == "" {
		format = "json"
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			format = "text"
		}
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version",
		Long:    "Print the version and commit this binary was built from.",
		Example: "  switchboard version",
		Args:    cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "switchboard %s %s\n", version, commit)
		},
	}
}
