// Package kb is the knowledge base: it splits documents (Markdown, plain
// text, HTML) into passages, keeps them in a switchboard.DocumentStore, and
// answers questions from an in-memory BM25 index with CJK-aware
// tokenization (see Tokenize), partitioned by inbox.
//
// The store is the truth; the index is rebuilt from it by Load and kept up
// to date by Add and Delete. With several server instances sharing one
// store, each instance sees another's changes after its next Load.
package kb

import (
	"context"
	"fmt"
	"log/slog"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-chat/switchboard"
)

// MaxDocumentSize is the largest document Add accepts, in bytes.
const MaxDocumentSize = 8 << 20

// DefaultK is the number of passages Search returns when k <= 0.
const DefaultK = 4

// KB is the knowledge base of every inbox. It is safe for concurrent use.
type KB struct {
	store  switchboard.DocumentStore
	logger *slog.Logger

	writeMu   sync.Mutex // serialises Add, Delete and Load
	index     atomic.Pointer[Index]
	threshold atomic.Pointer[Threshold]
}

var _ switchboard.KnowledgeBase = (*KB)(nil)

// New returns a knowledge base over store with an empty index; call Load to
// index the stored documents.
func New(store switchboard.DocumentStore, logger *slog.Logger) *KB {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	k := &KB{store: store, logger: logger}
	th := DefaultThreshold()
	k.threshold.Store(&th)
	k.index.Store(NewIndex())
	return k
}

// SetThreshold changes the relevance threshold of later searches.
func (k *KB) SetThreshold(t Threshold) {
	k.threshold.Store(&t)
	k.index.Load().SetThreshold(t)
}

// Threshold returns the relevance threshold.
func (k *KB) Threshold() Threshold { return *k.threshold.Load() }

// Index returns the current index (for statistics and tests).
func (k *KB) Index() *Index { return k.index.Load() }

// Load builds a new index from every stored passage and swaps it in;
// searches keep using the old index until it is ready.
func (k *KB) Load(ctx context.Context) error {
	k.writeMu.Lock()
	defer k.writeMu.Unlock()
	start := time.Now()
	ps, err := k.store.FindPassages(ctx, "")
	if err != nil {
		return fmt.Errorf("kb load: %w", err)
	}
	ix := NewIndex()
	ix.SetThreshold(k.Threshold())
	ix.Add(ps)
	k.index.Store(ix)
	k.logger.Info("knowledge base loaded", "passages", len(ps), "duration", time.Since(start))
	return nil
}

// Add splits content into passages and stores it as a document of inbox
// inboxID, replacing the inbox's document with the same source (when source
// is not empty), and updates the index. An empty format is detected from
// source and content. An empty title is taken from the document (first
// level-1 heading, <title>), else from source.
//
// Errors: EINVALID (no inbox, unknown format, no text), ETOOLARGE.
func (k *KB) Add(ctx context.Context, inboxID, title, source, format string, content []byte) (*switchboard.Document, error) {
	if inboxID == "" {
		return nil, switchboard.Errorf(switchboard.EINVALID, "Inbox required.")
	}
	if len(content) > MaxDocumentSize {
		return nil, switchboard.Errorf(switchboard.ETOOLARGE, "Document is larger than %d MiB.", MaxDocumentSize>>20)
	}
	format = strings.ToLower(strings.TrimSpace(format))
	switch format {
	case "":
		format = DetectFormat(source, content)
	case "md":
		format = FormatMarkdown
	case "txt", "plain":
		format = FormatText
	case "htm":
		format = FormatHTML
	}
	if !ValidFormat(format) {
		return nil, switchboard.Errorf(switchboard.EINVALID, "Unknown document format %q (use markdown, text or html).", format)
	}
	title, passages := Split(title, format, content)
	if len(passages) == 0 {
		return nil, switchboard.Errorf(switchboard.EINVALID, "Document has no text.")
	}
	if title == "" {
		title = titleFromSource(source)
	}

	k.writeMu.Lock()
	defer k.writeMu.Unlock()
	now := time.Now().UTC()
	d := &switchboard.Document{
		InboxID:   inboxID,
		Title:     title,
		Source:    source,
		Format:    format,
		Content:   string(content),
		Passages:  len(passages),
		CreatedAt: now,
		UpdatedAt: now,
	}
	if source != "" {
		docs, err := k.store.FindDocuments(ctx, inboxID)
		if err != nil {
			return nil, fmt.Errorf("kb find documents: %w", err)
		}
		for _, old := range docs {
			if old.Source == source {
				d.ID, d.CreatedAt = old.ID, old.CreatedAt
				break
			}
		}
	}
	if d.ID == "" {
		d.ID = switchboard.NewIDAt(now)
	}
	for i := range passages {
		p := &passages[i]
		p.ID = switchboard.NewIDAt(now)
		p.DocumentID = d.ID
		p.InboxID = inboxID
		if p.Title == "" {
			p.Title = title
		}
	}
	if err := k.store.PutDocument(ctx, d, passages); err != nil {
		return nil, fmt.Errorf("kb put document: %w", err)
	}
	k.index.Load().ReplaceDocument(d.ID, passages)
	k.logger.Info("knowledge base document stored", "inbox_id", inboxID, "document_id", d.ID,
		"source", source, "format", format, "passages", len(passages))
	return d, nil
}

// titleFromSource turns "docs/getting-started.md" into "getting-started".
func titleFromSource(source string) string {
	s := source
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i]
	}
	s = path.Base(strings.TrimRight(s, "/"))
	s = strings.TrimSuffix(s, path.Ext(s))
	if s == "" || s == "." || s == "/" {
		return "Untitled"
	}
	return s
}

// Delete removes a document and its passages. Errors: ENOTFOUND.
func (k *KB) Delete(ctx context.Context, docID string) error {
	k.writeMu.Lock()
	defer k.writeMu.Unlock()
	if err := k.store.DeleteDocument(ctx, docID); err != nil {
		return fmt.Errorf("kb delete document: %w", err)
	}
	k.index.Load().RemoveDocument(docID)
	return nil
}

// Documents returns the documents of an inbox ("" = every inbox).
func (k *KB) Documents(ctx context.Context, inboxID string) ([]*switchboard.Document, error) {
	docs, err := k.store.FindDocuments(ctx, inboxID)
	if err != nil {
		return nil, fmt.Errorf("kb find documents: %w", err)
	}
	return docs, nil
}

// Search returns up to k passages of the inbox relevant to query, best
// first with Score set (DefaultK when k <= 0), and none when nothing is
// relevant enough (see Threshold). inboxID "" searches every inbox.
func (k *KB) Search(ctx context.Context, inboxID, query string, n int) ([]switchboard.Passage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if n <= 0 {
		n = DefaultK
	}
	return k.index.Load().search(inboxID, query, n, k.Threshold()), nil
}
