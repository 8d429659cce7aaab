package kb_test

import (
	"slices"
	"testing"

	"github.com/switchboard-chat/switchboard/kb"
)

func TestTokenize(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   string
		want []string
	}{
		{"English", "How do I embed the widget?", []string{"embed", "widget"}},
		{"Stems", "embeds embedding embedded", []string{"embed", "embed", "embed"}},
		{"StemsConfigure", "configure configuring configuration", []string{"configur", "configur", "configur"}},
		{"Plurals", "policies keys passes", []string{"policy", "key", "pass"}},
		{"Separators", "api_key_env widget.js", []string{"api", "key", "env", "widget", "js"}},
		{"Digits", "HTTP 429 v2", []string{"http", "429", "v2"}},
		{"FullWidth", "ＡＰＩ　Ｋｅｙ１２", []string{"api", "key12"}},
		{"Chinese", "怎么转人工", []string{"转", "转人", "人", "人工", "工"}},
		{"ChineseStopBigram", "可以配置", []string{"可", "以", "以配", "配", "配置", "置"}},
		{"MixedScript", "GPT模型", []string{"gpt", "模", "模型", "型"}},
		{"Japanese", "埋め込み", []string{"埋", "埋め", "め", "め込", "込", "込み", "み"}},
		{"JapaneseParticle", "設定を変更", []string{"設", "設定", "定", "変", "変更", "更"}},
		{"Korean", "위젯 설치", []string{"위", "위젯", "젯", "설", "설치", "치"}},
		{"HalfWidthKatakana", "ｳｨｼﾞｪｯﾄ", kb.Tokenize("ウィジェット")},
		{"OnlyStopwords", "what is it?", nil},
		{"Empty", "", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := kb.Tokenize(tt.in); !slices.Equal(got, tt.want) {
				t.Fatalf("Tokenize(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzTokenize(f *testing.F) {
	for _, s := range []string{"How do I embed the widget?", "怎么转人工", "ＡＰＩ", "ｳｨｼﾞｪｯﾄ", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, tok := range kb.Tokenize(s) {
			if tok == "" {
				t.Fatalf("empty token for %q", s)
			}
		}
	})
}
