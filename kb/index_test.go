package kb_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/kb"
)

// addDoc splits a markdown document and adds it to ix.
func addDoc(tb testing.TB, ix *kb.Index, inboxID, docID, title, md string) []switchboard.Passage {
	tb.Helper()
	_, ps := kb.Split(title, kb.FormatMarkdown, []byte(md))
	if len(ps) == 0 {
		tb.Fatalf("document %s has no passages", docID)
	}
	for i := range ps {
		ps[i].ID = fmt.Sprintf("%s-%d", docID, i)
		ps[i].DocumentID = docID
		ps[i].InboxID = inboxID
	}
	ix.Add(ps)
	return ps
}

// defaultIndex indexes the default documents into inbox "in".
func defaultIndex(tb testing.TB) *kb.Index {
	tb.Helper()
	ix := kb.NewIndex()
	for _, d := range kb.DefaultDocuments() {
		addDoc(tb, ix, "in", d.Source, d.Title, string(d.Content))
	}
	return ix
}

// mustFind searches and checks that the best hit's heading path contains
// want (a heading or the document title).
func mustFind(tb testing.TB, ix *kb.Index, inboxID, query, want string) switchboard.Passage {
	tb.Helper()
	hits := ix.Search(inboxID, query, 3)
	if len(hits) == 0 {
		tb.Fatalf("Search(%q): no hits, want %q", query, want)
	}
	if got := hits[0].Title + " › " + hits[0].Heading; !strings.Contains(got, want) {
		tb.Fatalf("Search(%q): best hit %q (%.2f), want %q; all: %v", query, got, hits[0].Score, want, headings(hits))
	}
	return hits[0]
}

func headings(ps []switchboard.Passage) []string {
	var out []string
	for _, p := range ps {
		out = append(out, fmt.Sprintf("%s › %s (%.2f)", p.Title, p.Heading, p.Score))
	}
	return out
}

func TestIndexSearch(t *testing.T) {
	ix := defaultIndex(t)
	for _, tt := range []struct{ query, want string }{
		{"how do I embed the widget", "add the script tag"},
		{"Where do I put the widget.js script tag on my site?", "add the script tag"},
		{"how do I talk to a real person", "How to reach a person"},
		{"configure OpenAI API key environment variable", "Configuring a model provider"},
		{"failover when the provider is down", "Routes and failover"},
		{"is my data private", "Privacy and your data"},
		{"too many requests 429 rate limit", "Rate limits"},
		{"openai sdk base url", "OpenAI-compatible API"},
		{"where is the agent console", "The agent console"},
		{"how does the offline mode work", "offline mode"},
		{"怎么转人工", "怎么转人工"},
		{"我想找人工客服", "转人工客服"},
		{"如何配置模型", "配置模型服务"},
		{"怎么设置 API 密钥环境变量", "配置模型服务"},
		{"怎么把聊天挂件嵌入网站", "嵌入聊天挂件"},
		{"数据安全吗？会上传到第三方吗", "隐私与数据安全"},
		{"限流规则是什么", "频率限制"},
		{"ＯＰＥＮＡＩ 兼容接口怎么调用", "OpenAI 兼容 API"},
	} {
		t.Run(tt.query, func(t *testing.T) { mustFind(t, ix, "in", tt.query, tt.want) })
	}
}

func TestIndexNoAnswer(t *testing.T) {
	ix := defaultIndex(t)
	for _, q := range []string{
		"what is the capital of Peru",
		"秘鲁的首都是什么",
		"how do I cook pasta",
		"what's the weather like today",
		"今天天气怎么样",
		"東京の天気はどうですか",
		"how do I get a refund",
		"我想退款",
		"tell me a joke",
		"讲个笑话",
		"推荐一款手机",
		"开源吗",
		"hello",
		"???",
		"",
	} {
		t.Run(q, func(t *testing.T) {
			if hits := ix.Search("in", q, 3); len(hits) != 0 {
				t.Fatalf("Search(%q) = %v, want none", q, headings(hits))
			}
		})
	}
}

func TestIndexJapaneseAndMixed(t *testing.T) {
	ix := kb.NewIndex()
	addDoc(t, ix, "jp", "jp1", "ヘルプ", `# ヘルプ

## ウィジェットの設置

ウェブサイトにチャットウィジェットを埋め込むには、ページの </body> の直前に script タグを追加してください。ウィジェットキーは管理画面で確認できます。

## 料金について

料金プランは月額制です。請求書はメールで毎月送られます。`)
	addDoc(t, ix, "jp", "en1", "Shipping", "# Shipping\n\nOrders ship within two business days. International shipping takes 7-14 days.")
	mustFind(t, ix, "jp", "ウィジェットを埋め込む方法", "ウィジェットの設置")
	mustFind(t, ix, "jp", "料金はいくらですか", "料金について")
	mustFind(t, ix, "jp", "script タグはどこに追加しますか", "ウィジェットの設置")
	mustFind(t, ix, "jp", "international shipping 何日", "Shipping")
	if hits := ix.Search("jp", "東京の天気", 3); len(hits) != 0 {
		t.Fatalf("unrelated Japanese question hit %v", headings(hits))
	}
}

func TestIndexInboxes(t *testing.T) {
	ix := kb.NewIndex()
	addDoc(t, ix, "a", "a1", "Returns", "# Returns\n\nYou can return any item within 30 days for a full refund.")
	addDoc(t, ix, "b", "b1", "Shipping", "# Shipping\n\nWe ship worldwide with tracking.")
	if hits := ix.Search("b", "refund a returned item", 3); len(hits) != 0 {
		t.Fatalf("inbox b sees inbox a: %v", headings(hits))
	}
	mustFind(t, ix, "a", "refund a returned item", "Returns")
	if hits := ix.Search("", "refund", 3); len(hits) != 1 || hits[0].InboxID != "a" {
		t.Fatalf("search of every inbox = %v", headings(hits))
	}
	if ix.Len("a") != 1 || ix.Len("") != 2 || ix.Len("zzz") != 0 {
		t.Fatalf("Len = %d, %d, %d", ix.Len("a"), ix.Len(""), ix.Len("zzz"))
	}
}

func TestIndexUpdateDelete(t *testing.T) {
	ix := kb.NewIndex()
	addDoc(t, ix, "in", "d1", "Hours", "# Hours\n\nOur support desk is open Monday to Friday.")
	addDoc(t, ix, "in", "d2", "Returns", "# Returns\n\nReturn any item within 30 days.")
	mustFind(t, ix, "in", "when is the support desk open", "Hours")

	_, ps := kb.Split("Hours", kb.FormatMarkdown, []byte("# Hours\n\nThe support desk now opens every day, weekends included."))
	for i := range ps {
		ps[i].DocumentID, ps[i].InboxID = "d1", "in"
	}
	ix.ReplaceDocument("d1", ps)
	if p := mustFind(t, ix, "in", "is the support desk open on weekends", "Hours"); !strings.Contains(p.Text, "weekends") {
		t.Fatalf("old text after replace: %q", p.Text)
	}
	if hits := ix.Search("in", "Monday", 3); len(hits) != 0 {
		t.Fatalf("old text still found: %v", headings(hits))
	}

	if n := ix.RemoveDocument("d1"); n != 1 {
		t.Fatalf("RemoveDocument = %d, want 1", n)
	}
	if hits := ix.Search("in", "support desk weekends", 3); len(hits) != 0 {
		t.Fatalf("deleted document found: %v", headings(hits))
	}
	mustFind(t, ix, "in", "return an item", "Returns")
	if n := ix.RemoveDocument("d1"); n != 0 {
		t.Fatalf("second RemoveDocument = %d", n)
	}
}

func TestIndexCompaction(t *testing.T) {
	ix := kb.NewIndex()
	// Many add/remove rounds force slot compaction; the survivor must stay findable.
	addDoc(t, ix, "in", "keep", "Keep", "# Keep\n\nThe zebra passage survives every compaction.")
	for i := range 40 {
		id := fmt.Sprintf("tmp%d", i)
		var b strings.Builder
		for j := range 20 {
			fmt.Fprintf(&b, "## Part %d\n\nTemporary text number %d about gizmos and widgets.\n\n", j, i)
		}
		addDoc(t, ix, "in", id, id, b.String())
		if i > 0 {
			ix.RemoveDocument(fmt.Sprintf("tmp%d", i-1))
		}
	}
	mustFind(t, ix, "in", "zebra passage", "Keep")
	mustFind(t, ix, "in", "temporary gizmos number 39", "tmp39")
	if n := ix.Len("in"); n != 21 {
		t.Fatalf("Len = %d, want 21", n)
	}
}

func TestIndexConcurrent(t *testing.T) {
	ix := defaultIndex(t)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 50 {
				if w%2 == 0 {
					id := fmt.Sprintf("w%d-%d", w, i)
					addDoc(t, ix, "in", id, id, "# Note\n\nA temporary note about parrots.")
					ix.RemoveDocument(id)
					continue
				}
				if hits := ix.Search("in", "how do I embed the widget", 2); len(hits) == 0 {
					t.Error("no hits during concurrent updates")
					return
				}
			}
		})
	}
	wg.Wait()
}
