package kb_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/kb"
)

// memStore is a DocumentStore in memory, for the tests that do not need a
// database (kb_sqlite_test.go runs the same checks on the real SQLite store).
type memStore struct {
	mu       sync.Mutex
	docs     map[string]*switchboard.Document
	passages map[string][]switchboard.Passage
}

func newMemStore() *memStore {
	return &memStore{docs: map[string]*switchboard.Document{}, passages: map[string][]switchboard.Passage{}}
}

func (s *memStore) PutDocument(ctx context.Context, d *switchboard.Document, ps []switchboard.Passage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d.ID == "" {
		for _, old := range s.docs {
			if old.InboxID == d.InboxID && old.Source == d.Source && d.Source != "" {
				d.ID = old.ID
			}
		}
	}
	if d.ID == "" {
		d.ID = switchboard.NewID()
	}
	c := *d
	s.docs[d.ID] = &c
	s.passages[d.ID] = slices.Clone(ps)
	return nil
}

func (s *memStore) FindDocumentByID(ctx context.Context, id string) (*switchboard.Document, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, ok := s.docs[id]; ok {
		c := *d
		return &c, nil
	}
	return nil, switchboard.Errorf(switchboard.ENOTFOUND, "Document not found.")
}

func (s *memStore) FindDocuments(ctx context.Context, inboxID string) ([]*switchboard.Document, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*switchboard.Document
	for _, d := range s.docs {
		if inboxID == "" || d.InboxID == inboxID {
			c := *d
			out = append(out, &c)
		}
	}
	slices.SortFunc(out, func(a, b *switchboard.Document) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (s *memStore) DeleteDocument(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.docs[id]; !ok {
		return switchboard.Errorf(switchboard.ENOTFOUND, "Document not found.")
	}
	delete(s.docs, id)
	delete(s.passages, id)
	return nil
}

func (s *memStore) FindPassages(ctx context.Context, inboxID string) ([]switchboard.Passage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []switchboard.Passage
	for _, ps := range s.passages {
		for _, p := range ps {
			if inboxID == "" || p.InboxID == inboxID {
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// mustSearch checks that the best passage of a KB search has want in its
// title or heading path.
func mustSearch(tb testing.TB, k *kb.KB, inboxID, query, want string) switchboard.Passage {
	tb.Helper()
	hits, err := k.Search(context.Background(), inboxID, query, 3)
	if err != nil {
		tb.Fatal(err)
	}
	if len(hits) == 0 {
		tb.Fatalf("Search(%q): no hits, want %q", query, want)
	}
	if got := hits[0].Title + " › " + hits[0].Heading; !strings.Contains(got, want) {
		tb.Fatalf("Search(%q): best hit %q, want %q; all: %v", query, got, want, headings(hits))
	}
	return hits[0]
}

func mustSearchNone(tb testing.TB, k *kb.KB, inboxID, query string) {
	tb.Helper()
	hits, err := k.Search(context.Background(), inboxID, query, 3)
	if err != nil {
		tb.Fatal(err)
	}
	if len(hits) != 0 {
		tb.Fatalf("Search(%q) = %v, want none", query, headings(hits))
	}
}

// testKB runs the KB checks against a store; reopen returns a new KB over
// the same stored data (a restart).
func testKB(t *testing.T, store switchboard.DocumentStore, reopen func() *kb.KB) {
	ctx := context.Background()
	k := kb.New(store, nil)
	if err := k.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if err := k.AddDefaults(ctx, "default"); err != nil {
		t.Fatal(err)
	}

	t.Run("Defaults", func(t *testing.T) {
		p := mustSearch(t, k, "default", "how do I embed the widget", "add the script tag")
		if !strings.Contains(p.Text, `data-widget-key`) || p.InboxID != "default" || p.DocumentID == "" || p.ID == "" {
			t.Fatalf("embed passage = %+v", p)
		}
		mustSearch(t, k, "default", "怎么转人工", "怎么转人工")
		mustSearch(t, k, "default", "如何配置模型", "配置模型服务")
		mustSearch(t, k, "default", "Is my data kept on my own server?", "Privacy")
		mustSearchNone(t, k, "default", "what is the capital of Peru")
		mustSearchNone(t, k, "other", "how do I embed the widget")
	})

	var doc *switchboard.Document
	t.Run("Add", func(t *testing.T) {
		var err error
		doc, err = k.Add(ctx, "shop", "", "faq/returns.md", "", []byte("# Returns\n\n## Refunds\n\nRefunds reach your card within 5 business days."))
		if err != nil {
			t.Fatal(err)
		}
		if doc.ID == "" || doc.Title != "Returns" || doc.Format != kb.FormatMarkdown || doc.Passages != 1 {
			t.Fatalf("document = %+v", doc)
		}
		p := mustSearch(t, k, "shop", "when will I get my refund", "Refunds")
		if p.Title != "Returns" || p.Heading != "Refunds" {
			t.Fatalf("passage = %+v", p)
		}
	})

	t.Run("Replace", func(t *testing.T) {
		d2, err := k.Add(ctx, "shop", "Returns", "faq/returns.md", "markdown", []byte("# Returns\n\n## Refunds\n\nRefunds are paid as store credit within 2 days."))
		if err != nil {
			t.Fatal(err)
		}
		if d2.ID != doc.ID {
			t.Fatalf("replaced document has ID %s, want %s", d2.ID, doc.ID)
		}
		if p := mustSearch(t, k, "shop", "refund", "Refunds"); !strings.Contains(p.Text, "store credit") {
			t.Fatalf("old text after replace: %q", p.Text)
		}
		mustSearchNone(t, k, "shop", "card business days")
		docs, err := k.Documents(ctx, "shop")
		if err != nil || len(docs) != 1 {
			t.Fatalf("Documents = %v, %v", docs, err)
		}
	})

	t.Run("Restart", func(t *testing.T) {
		k2 := reopen()
		if err := k2.Load(ctx); err != nil {
			t.Fatal(err)
		}
		mustSearch(t, k2, "default", "how do I embed the widget", "add the script tag")
		if p := mustSearch(t, k2, "shop", "refund", "Refunds"); !strings.Contains(p.Text, "store credit") {
			t.Fatalf("old text after restart: %q", p.Text)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		if err := k.Delete(ctx, doc.ID); err != nil {
			t.Fatal(err)
		}
		mustSearchNone(t, k, "shop", "refund store credit")
		if err := k.Delete(ctx, doc.ID); switchboard.ErrorCode(err) != switchboard.ENOTFOUND {
			t.Fatalf("second Delete = %v, want ENOTFOUND", err)
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		for name, f := range map[string]func() error{
			"NoInbox": func() error { _, err := k.Add(ctx, "", "t", "", "text", []byte("x")); return err },
			"Format":  func() error { _, err := k.Add(ctx, "shop", "t", "", "pdf", []byte("x")); return err },
			"Empty": func() error {
				_, err := k.Add(ctx, "shop", "t", "", "markdown", []byte("# Only a title\n"))
				return err
			},
		} {
			if err := f(); switchboard.ErrorCode(err) != switchboard.EINVALID {
				t.Errorf("%s: err = %v, want EINVALID", name, err)
			}
		}
		big := make([]byte, kb.MaxDocumentSize+1)
		if _, err := k.Add(ctx, "shop", "t", "", "text", big); switchboard.ErrorCode(err) != switchboard.ETOOLARGE {
			t.Errorf("too large: err = %v", err)
		}
	})

	t.Run("Canceled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := k.Search(cctx, "default", "widget", 3); err == nil {
			t.Fatal("Search with a canceled context succeeded")
		}
	})
}

func TestKB(t *testing.T) {
	store := newMemStore()
	testKB(t, store, func() *kb.KB { return kb.New(store, nil) })
}

func TestDefaultDocuments(t *testing.T) {
	docs := kb.DefaultDocuments()
	langs := map[string]int{}
	sources := map[string]bool{}
	for _, d := range docs {
		langs[d.Lang]++
		if d.Title == "" || d.Format != kb.FormatMarkdown || len(d.Content) == 0 || sources[d.Source] {
			t.Errorf("bad default document %+v", d.Source)
		}
		sources[d.Source] = true
	}
	if langs["en"] == 0 || langs["en"] != langs["zh-CN"] {
		t.Fatalf("languages = %v", langs)
	}
}
