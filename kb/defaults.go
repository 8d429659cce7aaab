package kb

import (
	"context"
	"embed"
	"io/fs"
	"path"
	"strings"
)

//go:embed defaults/*.md
var defaultsFS embed.FS

// DefaultDoc is a document of the built-in knowledge base about Switchboard
// itself, loaded into the default inbox on first start.
type DefaultDoc struct {
	Title   string
	Source  string // stable, so adding it again replaces it: "switchboard:en/widget.md"
	Format  string
	Lang    string // "en" or "zh-CN"
	Content []byte
}

// DefaultDocuments returns the built-in documents, English and Simplified
// Chinese, in a stable order.
func DefaultDocuments() []DefaultDoc {
	entries, err := fs.ReadDir(defaultsFS, "defaults")
	if err != nil {
		panic(err) // embedded at build time
	}
	var docs []DefaultDoc
	for _, e := range entries {
		b, err := defaultsFS.ReadFile("defaults/" + e.Name())
		if err != nil {
			panic(err)
		}
		lang, name, _ := strings.Cut(e.Name(), "-")
		if lang == "zh" {
			lang = "zh-CN"
		}
		title, _ := Split("", FormatMarkdown, b)
		docs = append(docs, DefaultDoc{
			Title:   title,
			Source:  "switchboard:" + path.Join(strings.ToLower(strings.SplitN(lang, "-", 2)[0]), name),
			Format:  FormatMarkdown,
			Lang:    lang,
			Content: b,
		})
	}
	return docs
}

// AddDefaults adds the built-in documents to an inbox, replacing earlier
// copies (matched by source).
func (k *KB) AddDefaults(ctx context.Context, inboxID string) error {
	for _, d := range DefaultDocuments() {
		if _, err := k.Add(ctx, inboxID, d.Title, d.Source, d.Format, d.Content); err != nil {
			return err
		}
	}
	return nil
}
