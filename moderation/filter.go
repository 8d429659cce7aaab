// Package moderation checks text against word lists: an Aho-Corasick
// automaton over normalised text (see normalize.go for the rules), a
// streaming filter for model output, word files with hot reload, and a
// review webhook.
package moderation

import (
	"log/slog"
	"maps"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	switchboard "github.com/switchboard-chat/switchboard"
)

var _ switchboard.Moderator = (*Filter)(nil)

// Direction says whether a text is a user's input or a model's output.
type Direction string

const (
	DirectionInput  Direction = "input"
	DirectionOutput Direction = "output"
)

// Options configure a Filter.
type Options struct {
	Logger *slog.Logger // default slog.Default()
	// Registerer, when set, gets switchboard_moderation_hits_total{action,direction}.
	Registerer prometheus.Registerer
}

// Filter is a switchboard.Moderator. Lists are compiled into automata that
// are swapped atomically: Check and new stream filters see either the old
// or the new lists, never a mix, and a running stream filter keeps the
// automaton it started with.
type Filter struct {
	logger *slog.Logger
	snap   atomic.Pointer[snapshot]
	mu     sync.Mutex // serialises writers of snap and files

	files map[string]*fileSet // LoadFiles by scope, for Watch

	hits map[switchboard.ModerationAction]map[Direction]prometheus.Counter
}

// snapshot is one immutable generation of lists and automata.
type snapshot struct {
	lists    map[string][]switchboard.WordList // by scope; "" = global
	global   *automaton                        // global lists
	combined map[string]*automaton             // global + scope lists, by scope
}

// New returns a Filter with no lists.
func New(opts Options) *Filter {
	f := &Filter{
		logger: opts.Logger,
		files:  make(map[string]*fileSet),
		hits:   make(map[switchboard.ModerationAction]map[Direction]prometheus.Counter),
	}
	if f.logger == nil {
		f.logger = slog.Default()
	}
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_moderation_hits_total",
		Help: "Listed words found, by action and direction.",
	}, []string{"action", "direction"})
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(vec)
	}
	for _, a := range []switchboard.ModerationAction{switchboard.ActionReview, switchboard.ActionMask, switchboard.ActionHandoff, switchboard.ActionBlock} {
		f.hits[a] = map[Direction]prometheus.Counter{
			DirectionInput:  vec.WithLabelValues(string(a), string(DirectionInput)),
			DirectionOutput: vec.WithLabelValues(string(a), string(DirectionOutput)),
		}
	}
	empty, _ := compile()
	f.snap.Store(&snapshot{lists: map[string][]switchboard.WordList{}, global: empty, combined: map[string]*automaton{}})
	return f
}

// SetLists replaces the lists of a scope ("" = global) and compiles them.
// It returns EINVALID for an unknown action or a word with no letters or
// digits (or containing the mask character '*'); the old lists then stay.
// An empty lists removes the scope.
func (f *Filter) SetLists(scope string, lists []switchboard.WordList) error {
	lists = cloneLists(lists)
	f.mu.Lock()
	defer f.mu.Unlock()
	old := f.snap.Load()
	next := &snapshot{lists: maps.Clone(old.lists), global: old.global, combined: maps.Clone(old.combined)}
	if len(lists) == 0 {
		delete(next.lists, scope)
	} else {
		next.lists[scope] = lists
	}
	if scope == "" {
		g, err := compile(lists)
		if err != nil {
			return err
		}
		next.global = g
		for s := range next.combined { // every scope includes the global lists
			if next.combined[s], err = compile(lists, next.lists[s]); err != nil {
				return err
			}
		}
	} else if len(lists) == 0 {
		delete(next.combined, scope)
	} else {
		a, err := compile(next.lists[""], lists)
		if err != nil {
			return err
		}
		next.combined[scope] = a
	}
	f.snap.Store(next)
	return nil
}

// Lists returns a copy of the lists of a scope ("" = global).
func (f *Filter) Lists(scope string) []switchboard.WordList {
	return cloneLists(f.snap.Load().lists[scope])
}

func cloneLists(lists []switchboard.WordList) []switchboard.WordList {
	if lists == nil {
		return nil
	}
	out := make([]switchboard.WordList, len(lists))
	for i, l := range lists {
		l.Words = slices.Clone(l.Words)
		out[i] = l
	}
	return out
}

// automaton returns the automaton for scope.
func (f *Filter) automaton(scope string) *automaton {
	s := f.snap.Load()
	if a, ok := s.combined[scope]; ok {
		return a
	}
	return s.global
}

// Check checks a user's input against the global lists and those of scope.
func (f *Filter) Check(scope, text string) switchboard.ModerationResult {
	return f.CheckDirection(DirectionInput, scope, text)
}

// CheckDirection is Check for a text of either direction (the direction
// only labels the hit metrics).
func (f *Filter) CheckDirection(dir Direction, scope, text string) switchboard.ModerationResult {
	a := f.automaton(scope)
	var sc scanner
	sc.reset(a)
	hits, _ := sc.scan(unsafeBytes(text), 0, true, nil)
	if len(hits) == 0 {
		return switchboard.ModerationResult{Text: text}
	}
	res := f.result(a, hits, dir)
	res.Text = string(appendMasked(nil, text, 0, a, hits))
	return res
}

// StreamFilter returns a filter for a stream of model output that keeps
// the lists in force now.
func (f *Filter) StreamFilter(scope string) switchboard.StreamFilter {
	return newStream(f, f.automaton(scope))
}

// result turns hits into a result (without Text), sorted by position, and
// counts them.
func (f *Filter) result(a *automaton, hits []hit, dir Direction) switchboard.ModerationResult {
	var res switchboard.ModerationResult
	res.Hits = make([]switchboard.ModerationHit, len(hits))
	for i, h := range hits {
		p := &a.pats[h.pat]
		res.Hits[i] = switchboard.ModerationHit{Word: p.word, Action: p.action, Start: h.start, End: h.end}
		if p.action.Severity() > res.Action.Severity() {
			res.Action = p.action
		}
		f.hits[p.action][dir].Inc()
	}
	sort.SliceStable(res.Hits, func(i, j int) bool {
		x, y := res.Hits[i], res.Hits[j]
		if x.Start != y.Start {
			return x.Start < y.Start
		}
		return x.End < y.End
	})
	return res
}

// appendMasked appends text (which starts at offset base) to dst with the
// runes of every masking hit replaced by '*', one per original rune.
func appendMasked(dst []byte, text string, base int, a *automaton, hits []hit) []byte {
	var spans [][2]int
	for _, h := range hits {
		if a.pats[h.pat].mask {
			spans = append(spans, [2]int{max(h.start-base, 0), min(h.end-base, len(text))})
		}
	}
	if len(spans) == 0 {
		return append(dst, text...)
	}
	slices.SortFunc(spans, func(x, y [2]int) int { return x[0] - y[0] })
	if dst == nil {
		dst = make([]byte, 0, len(text))
	}
	at := 0
	for _, sp := range spans {
		if sp[1] <= at || sp[0] >= sp[1] {
			continue
		}
		from := max(sp[0], at)
		dst = append(dst, text[at:from]...)
		for i := from; i < sp[1]; {
			_, size := utf8.DecodeRuneInString(text[i:sp[1]])
			dst = append(dst, maskRune)
			i += size
		}
		at = sp[1]
	}
	return append(dst, text[at:]...)
}
