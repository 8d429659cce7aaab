package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	sb "github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/auth"
	sbhttp "github.com/switchboard-chat/switchboard/http"
	"github.com/switchboard-chat/switchboard/kb"
)

// withStore runs fn with the configured store open.
func (g *globals) withStore(cmd *cobra.Command, fn func(ctx context.Context, s sb.Store) error) error {
	cfg, err := g.load(cmd)
	if err != nil {
		return err
	}
	s, err := openStore(cmd.Context(), cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	return fn(cmd.Context(), s)
}

// output prints v as JSON with --json, else calls text.
func (g *globals) output(w io.Writer, v any, text func()) error {
	if g.jsonOut {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	text()
	return nil
}

func addJSONFlag(cmd *cobra.Command, g *globals) {
	cmd.Flags().BoolVar(&g.jsonOut, "json", false, "print JSON for scripts")
}

func newUserCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage agents and admins", Long: "Add, list and change the passwords of console users (agents and admins), working directly on the configured store."}
	var email, name, role string
	var capacity int
	add := &cobra.Command{
		Use: "add", Short: "Add an agent or admin (prints the password once)",
		Long:    "Create a console user with a random password, printed exactly once.",
		Example: "  switchboard user add --email ana@example.com --name Ana --role agent",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !strings.Contains(email, "@") {
				return fmt.Errorf("--email is required")
			}
			if role != string(sb.RoleAgent) && role != string(sb.RoleAdmin) {
				return fmt.Errorf("--role must be agent or admin")
			}
			return g.withStore(cmd, func(ctx context.Context, s sb.Store) error {
				password := auth.GeneratePassword()
				hash, err := auth.HashPassword(password)
				if err != nil {
					return err
				}
				if name == "" {
					name = strings.SplitN(email, "@", 2)[0]
				}
				u := &sb.User{Email: email, Name: name, Role: sb.Role(role), PasswordHash: hash, Capacity: capacity, Presence: sb.PresenceOffline}
				if err := s.CreateUser(ctx, u); err != nil {
					return fmt.Errorf("add user: %s", sb.ErrorMessage(err))
				}
				return g.output(cmd.OutOrStdout(), map[string]any{"user": u, "password": password}, func() {
					fmt.Fprintf(cmd.OutOrStdout(), "created %s %s (%s)\npassword: %s\n", u.Role, u.Email, u.ID, password)
				})
			})
		},
	}
	add.Flags().StringVar(&email, "email", "", "email address (login)")
	add.Flags().StringVar(&name, "name", "", "display name")
	add.Flags().StringVar(&role, "role", "agent", "agent or admin")
	add.Flags().IntVar(&capacity, "capacity", 0, "max open conversations (0 = default 5)")
	addJSONFlag(add, g)

	list := &cobra.Command{
		Use: "list", Short: "List users", Long: "List console users with role and presence.", Example: "  switchboard user list --json", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withStore(cmd, func(ctx context.Context, s sb.Store) error {
				us, err := s.FindUsers(ctx, sb.UserFilter{})
				if err != nil {
					return err
				}
				return g.output(cmd.OutOrStdout(), us, func() {
					tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "ID\tEMAIL\tNAME\tROLE\tPRESENCE")
					for _, u := range us {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.ID, u.Email, u.Name, u.Role, u.Presence)
					}
					tw.Flush()
				})
			})
		},
	}
	addJSONFlag(list, g)

	var stdin bool
	passwd := &cobra.Command{
		Use: "passwd EMAIL", Short: "Set a new password (random unless --stdin)",
		Long:    "Replace a user's password: a new random one printed once, or one read from standard input with --stdin.",
		Example: "  switchboard user passwd admin@localhost\n  echo 'long passphrase' | switchboard user passwd ana@example.com --stdin",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			password := auth.GeneratePassword()
			shown := true
			if stdin {
				b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 1024))
				if err != nil {
					return err
				}
				password, shown = strings.TrimRight(string(b), "\r\n"), false
				if len(password) < 10 {
					return fmt.Errorf("password must be at least 10 characters")
				}
			}
			return g.withStore(cmd, func(ctx context.Context, s sb.Store) error {
				u, err := s.FindUserByEmail(ctx, args[0])
				if err != nil {
					return fmt.Errorf("user %s: %s", args[0], sb.ErrorMessage(err))
				}
				hash, err := auth.HashPassword(password)
				if err != nil {
					return err
				}
				if _, err := s.UpdateUser(ctx, u.ID, sb.UserUpdate{PasswordHash: &hash}); err != nil {
					return err
				}
				out := map[string]any{"user": u.Email}
				if shown {
					out["password"] = password
				}
				return g.output(cmd.OutOrStdout(), out, func() {
					if shown {
						fmt.Fprintf(cmd.OutOrStdout(), "new password for %s: %s\n", u.Email, password)
					} else {
						fmt.Fprintf(cmd.OutOrStdout(), "password of %s changed\n", u.Email)
					}
				})
			})
		},
	}
	passwd.Flags().BoolVar(&stdin, "stdin", false, "read the new password from standard input")
	addJSONFlag(passwd, g)
	cmd.AddCommand(add, list, passwd)
	return cmd
}

func newInboxCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "inbox", Short: "Manage inboxes (websites)", Long: "List and create inboxes: each website or channel has its own widget key, allowed origins and assistant settings."}
	list := &cobra.Command{
		Use: "list", Short: "List inboxes with widget keys", Long: "List inboxes with their widget keys and allowed origins.", Example: "  switchboard inbox list", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withStore(cmd, func(ctx context.Context, s sb.Store) error {
				ins, err := s.FindInboxes(ctx)
				if err != nil {
					return err
				}
				return g.output(cmd.OutOrStdout(), ins, func() {
					tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "ID\tNAME\tWIDGET KEY\tALLOWED ORIGINS")
					for _, in := range ins {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", in.ID, in.Name, in.WidgetKey, strings.Join(in.AllowedOrigins, ","))
					}
					tw.Flush()
				})
			})
		},
	}
	addJSONFlag(list, g)
	var name, route, prompt, greeting string
	var origins []string
	var knowledge bool
	create := &cobra.Command{
		Use: "create", Short: "Create an inbox and print its widget snippet",
		Long:    "Create an inbox (one website) and print the <script> tag to embed its widget.",
		Example: "  switchboard inbox create --name Shop --origin https://shop.example.com --route default",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(name) == "" {
				return fmt.Errorf("--name is required")
			}
			return g.withStore(cmd, func(ctx context.Context, s sb.Store) error {
				in := &sb.Inbox{Name: name, AllowedOrigins: origins, Settings: sb.InboxSettings{Route: route, SystemPrompt: prompt, Greeting: greeting, KnowledgeBase: knowledge}}
				if err := s.CreateInbox(ctx, in); err != nil {
					return err
				}
				snippet := fmt.Sprintf(`<script src="https://YOUR-SWITCHBOARD-HOST/widget.js" data-widget-key="%s" async></script>`, in.WidgetKey)
				return g.output(cmd.OutOrStdout(), map[string]any{"inbox": in, "identity_secret": in.IdentitySecret, "snippet": snippet}, func() {
					fmt.Fprintf(cmd.OutOrStdout(), "created inbox %s (%s)\nwidget key: %s\nidentity secret: %s\nembed: %s\n", in.Name, in.ID, in.WidgetKey, in.IdentitySecret, snippet)
				})
			})
		},
	}
	create.Flags().StringVar(&name, "name", "", "inbox name")
	create.Flags().StringSliceVar(&origins, "origin", nil, "allowed origin (repeatable), e.g. https://shop.example.com")
	create.Flags().StringVar(&route, "route", "", "model route (default: default)")
	create.Flags().StringVar(&prompt, "system-prompt", "", "assistant system prompt")
	create.Flags().StringVar(&greeting, "greeting", "", "greeting shown in the widget")
	create.Flags().BoolVar(&knowledge, "knowledge-base", true, "answer from the inbox's knowledge base")
	addJSONFlag(create, g)
	cmd.AddCommand(list, create)
	return cmd
}

func newAPIKeyCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "apikey", Short: "Manage API keys of the OpenAI-compatible API", Long: "Create, list and revoke API keys for POST /v1/chat/completions. Keys are stored hashed; the secret is printed once."}
	var name, inbox string
	var rpm int
	var tpm int64
	var costDay float64
	create := &cobra.Command{
		Use: "create", Short: "Create an API key (printed once)", Long: "Create an API key with optional rate limit and budget; the secret is printed exactly once.",
		Example: "  switchboard apikey create --name backend --rpm 120 --tokens-per-minute 100000 --cost-per-day 5",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withStore(cmd, func(ctx context.Context, s sb.Store) error {
				var rl *sb.RateLimit
				if rpm > 0 {
					rl = &sb.RateLimit{Requests: rpm, Window: 60e9}
				}
				var b *sb.BudgetLimits
				if tpm > 0 || costDay > 0 {
					b = &sb.BudgetLimits{TokensPerMinute: tpm, CostPerDay: costDay}
				}
				k, secret, err := sbhttp.CreateAPIKey(ctx, s, name, inbox, rl, b)
				if err != nil {
					return fmt.Errorf("create API key: %s", sb.ErrorMessage(err))
				}
				return g.output(cmd.OutOrStdout(), map[string]any{"key": k, "secret": secret}, func() {
					fmt.Fprintf(cmd.OutOrStdout(), "created API key %s (%s)\nsecret (shown once): %s\n", k.Name, k.ID, secret)
				})
			})
		},
	}
	create.Flags().StringVar(&name, "name", "", "a name to recognise the key")
	create.Flags().StringVar(&inbox, "inbox", "", "inbox whose word lists apply (optional)")
	create.Flags().IntVar(&rpm, "rpm", 0, "requests per minute (0 = server default)")
	create.Flags().Int64Var(&tpm, "tokens-per-minute", 0, "token budget per minute (0 = none)")
	create.Flags().Float64Var(&costDay, "cost-per-day", 0, "cost budget per UTC day in USD (0 = none)")
	addJSONFlag(create, g)
	list := &cobra.Command{
		Use: "list", Short: "List API keys", Long: "List API keys (prefix only, never the secret).", Example: "  switchboard apikey list", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withStore(cmd, func(ctx context.Context, s sb.Store) error {
				ks, err := s.FindAPIKeys(ctx)
				if err != nil {
					return err
				}
				return g.output(cmd.OutOrStdout(), ks, func() {
					tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "ID\tNAME\tPREFIX\tREVOKED")
					for _, k := range ks {
						rev := ""
						if k.RevokedAt != nil {
							rev = k.RevokedAt.Format("2006-01-02 15:04")
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.ID, k.Name, k.Prefix, rev)
					}
					tw.Flush()
				})
			})
		},
	}
	addJSONFlag(list, g)
	revoke := &cobra.Command{
		Use: "revoke ID", Short: "Revoke an API key", Long: "Revoke an API key: requests with it get 401 at once.", Example: "  switchboard apikey revoke 01JD…", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withStore(cmd, func(ctx context.Context, s sb.Store) error {
				if err := s.RevokeAPIKey(ctx, args[0]); err != nil {
					return fmt.Errorf("revoke %s: %s", args[0], sb.ErrorMessage(err))
				}
				fmt.Fprintf(cmd.OutOrStdout(), "revoked %s\n", args[0])
				return nil
			})
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

func newKBCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "kb", Short: "Manage knowledge-base documents", Long: "Add, list and search the documents the assistant answers from (Markdown, text, HTML)."}
	var inbox string
	resolveInbox := func(ctx context.Context, s sb.Store) (string, error) {
		if inbox != "" {
			if _, err := s.FindInboxByID(ctx, inbox); err != nil {
				return "", fmt.Errorf("inbox %s: %s", inbox, sb.ErrorMessage(err))
			}
			return inbox, nil
		}
		ins, err := s.FindInboxes(ctx)
		if err != nil || len(ins) == 0 {
			return "", fmt.Errorf("no inbox: pass --inbox or start the server once")
		}
		return ins[0].ID, nil
	}
	add := &cobra.Command{
		Use: "add FILE...", Short: "Add or replace documents", Long: "Add documents to an inbox's knowledge base; a file added again replaces its earlier version. A running server picks up changes on restart.",
		Example: "  switchboard kb add docs/*.md --inbox 01JD…",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withStore(cmd, func(ctx context.Context, s sb.Store) error {
				in, err := resolveInbox(ctx, s)
				if err != nil {
					return err
				}
				k := kb.New(s, nil)
				if err := k.Load(ctx); err != nil {
					return err
				}
				var docs []*sb.Document
				for _, path := range args {
					b, err := os.ReadFile(path)
					if err != nil {
						return err
					}
					d, err := k.Add(ctx, in, "", filepath.Base(path), kb.DetectFormat(path, b), b)
					if err != nil {
						return fmt.Errorf("%s: %w", path, err)
					}
					docs = append(docs, d)
				}
				return g.output(cmd.OutOrStdout(), docs, func() {
					for _, d := range docs {
						fmt.Fprintf(cmd.OutOrStdout(), "added %s (%s, %d passages)\n", d.Title, d.ID, d.Passages)
					}
				})
			})
		},
	}
	add.Flags().StringVar(&inbox, "inbox", "", "inbox ID (default: the first inbox)")
	addJSONFlag(add, g)
	list := &cobra.Command{
		Use: "list", Short: "List documents", Long: "List an inbox's knowledge-base documents.", Example: "  switchboard kb list", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return g.withStore(cmd, func(ctx context.Context, s sb.Store) error {
				in, err := resolveInbox(ctx, s)
				if err != nil {
					return err
				}
				ds, err := s.FindDocuments(ctx, in)
				if err != nil {
					return err
				}
				return g.output(cmd.OutOrStdout(), ds, func() {
					tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "ID\tTITLE\tSOURCE\tPASSAGES")
					for _, d := range ds {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", d.ID, d.Title, d.Source, d.Passages)
					}
					tw.Flush()
				})
			})
		},
	}
	list.Flags().StringVar(&inbox, "inbox", "", "inbox ID (default: the first inbox)")
	addJSONFlag(list, g)
	var k int
	search := &cobra.Command{
		Use: "search QUESTION", Short: "Show the passages a question retrieves", Long: "Search an inbox's knowledge base the way the assistant does, with scores.",
		Example: "  switchboard kb search \"how do I embed the widget\"\n  switchboard kb search 怎么转人工",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return g.withStore(cmd, func(ctx context.Context, s sb.Store) error {
				in, err := resolveInbox(ctx, s)
				if err != nil {
					return err
				}
				kbase := kb.New(s, nil)
				if err := kbase.Load(ctx); err != nil {
					return err
				}
				ps, err := kbase.Search(ctx, in, strings.Join(args, " "), k)
				if err != nil {
					return err
				}
				return g.output(cmd.OutOrStdout(), ps, func() {
					if len(ps) == 0 {
						fmt.Fprintln(cmd.OutOrStdout(), "no relevant passage")
					}
					width := 100
					if w, _, err := term.GetSize(int(os.Stdout.Fd())); err == nil && w > 20 {
						width = w - 4
					}
					for _, p := range ps {
						text := strings.Join(strings.Fields(p.Text), " ")
						if len([]rune(text)) > width {
							text = string([]rune(text)[:width]) + "…"
						}
						fmt.Fprintf(cmd.OutOrStdout(), "%.2f  %s › %s\n    %s\n", p.Score, p.Title, p.Heading, text)
					}
				})
			})
		},
	}
	search.Flags().StringVar(&inbox, "inbox", "", "inbox ID (default: the first inbox)")
	search.Flags().IntVarP(&k, "top", "k", 4, "passages to show")
	addJSONFlag(search, g)
	cmd.AddCommand(add, list, search)
	return cmd
}

func newMigrateCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use: "migrate", Short: "Apply database migrations",
		Long:    "Apply pending schema migrations to the configured store (SQLite in --data-dir, or PostgreSQL with --database-url) and exit. serve applies them too.",
		Example: "  switchboard migrate --database-url postgres://sb@db/sb",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.load(cmd)
			if err != nil {
				return err
			}
			s, err := openStore(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer s.Close()
			m, ok := s.(interface {
				Migrate(context.Context) ([]string, error)
			})
			if !ok {
				return fmt.Errorf("store cannot migrate")
			}
			applied, err := m.Migrate(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "database is up to date (%s); %d migration(s) applied now\n", storeKind(cfg), len(applied))
			return nil
		},
	}
}
