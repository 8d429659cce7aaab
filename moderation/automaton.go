package moderation

import (
	"fmt"
	"slices"
	"strings"

	switchboard "github.com/switchboard-chat/switchboard"
)

// Aho-Corasick automaton over normalised runes.
//
// This is our own implementation rather than a library: the well-kept Go
// libraries (cloudflare/ahocorasick, petar-dambovaliev/aho-corasick,
// BobuSumisu/aho-corasick) match bytes of one string. We need rune-level
// matching over a normalisation that drops and folds characters, with every
// normalised character mapped back to the byte offsets of its original rune,
// word-boundary rules that look at the original neighbours, and a state we
// can carry from one stream chunk to the next. Feeding runes one at a time
// into our own automaton gives all of that without building a normalised
// copy of the text.
//
// Layout: runes are first mapped to dense class numbers (0 = a rune that is
// in no word, which always leads back to the root). Nodes are numbered in
// breadth-first order; the first denseNodes nodes (the shallow ones, where
// scanning spends nearly all its time) have a full transition row with
// failures already resolved; deeper nodes keep sorted edges and a failure
// link. Outputs are chained through dictionary links (outHead/patNext).

// denseBudget bounds the dense transition table (int32 entries).
const denseBudget = 1 << 20

// pattern is one normalised listed word.
type pattern struct {
	word      string                       // as listed (first spelling seen)
	action    switchboard.ModerationAction // strongest action among its lists
	mask      bool                         // some list containing it masks
	length    int                          // in normalised runes
	needLeft  bool                         // first rune is a glue rune: needs a boundary before
	needRight bool                         // last rune is a glue rune: needs a boundary after
}

type automaton struct {
	asciiClass [128]int32
	classes    map[rune]int32 // non-ASCII folded rune → class
	numClasses int32          // including class 0

	denseNodes int32
	dense      []int32 // denseNodes × numClasses

	fail      []int32
	edgeStart []int32 // node → first edge; len = nodes+1
	edgeClass []int32
	edgeTo    []int32

	depth   []int32 // node → length of the prefix it stands for
	outHead []int32 // node → first pattern ending here (own or via dictionary link), -1
	patNext []int32 // pattern → next pattern in the output chain, -1
	pats    []pattern

	maxLen int // longest pattern in normalised runes
}

// normaliseWord returns the normalised runes of a listed word.
func normaliseWord(w string) ([]rune, error) {
	var out []rune
	for _, r := range w {
		ri := classify(r)
		switch ri.kind {
		case kindBreak:
			return nil, switchboard.Errorf(switchboard.EINVALID, "Word %q contains the mask character %q.", w, maskRune)
		case kindSig:
			out = append(out, ri.r)
		}
	}
	if len(out) == 0 {
		return nil, switchboard.Errorf(switchboard.EINVALID, "Word %q has no letters or digits.", w)
	}
	return out, nil
}

// validAction reports whether a list may use action a.
func validAction(a switchboard.ModerationAction) bool {
	switch a {
	case switchboard.ActionBlock, switchboard.ActionMask, switchboard.ActionReview, switchboard.ActionHandoff:
		return true
	}
	return false
}

// compile builds an automaton from lists. It returns an EINVALID error for
// an unknown action or a word that normalises to nothing.
func compile(lists ...[]switchboard.WordList) (*automaton, error) {
	a := &automaton{classes: make(map[rune]int32)}
	a.numClasses = 1

	classOf := func(r rune) int32 {
		if r < 128 {
			if c := a.asciiClass[r]; c != 0 {
				return c
			}
			a.asciiClass[r] = a.numClasses
		} else {
			if c, ok := a.classes[r]; ok {
				return c
			}
			a.classes[r] = a.numClasses
		}
		a.numClasses++
		return a.numClasses - 1
	}

	// Patterns, deduplicated on their normalised form.
	byNorm := make(map[string]int32)
	var seqs [][]int32
	for _, ls := range lists {
		for _, l := range ls {
			if !validAction(l.Action) {
				return nil, switchboard.Errorf(switchboard.EINVALID, "Word list %q has an unknown action %q.", l.Name, l.Action)
			}
			for _, w := range l.Words {
				if strings.TrimSpace(w) == "" {
					continue
				}
				rs, err := normaliseWord(w)
				if err != nil {
					return nil, err
				}
				key := string(rs)
				if p, ok := byNorm[key]; ok {
					pp := &a.pats[p]
					if l.Action.Severity() > pp.action.Severity() {
						pp.action = l.Action
					}
					pp.mask = pp.mask || l.Action == switchboard.ActionMask
					continue
				}
				seq := make([]int32, len(rs))
				for i, r := range rs {
					seq[i] = classOf(r)
				}
				byNorm[key] = int32(len(a.pats))
				seqs = append(seqs, seq)
				a.pats = append(a.pats, pattern{
					word:      w,
					action:    l.Action,
					mask:      l.Action == switchboard.ActionMask,
					length:    len(rs),
					needLeft:  isGlue(rs[0]),
					needRight: isGlue(rs[len(rs)-1]),
				})
				a.maxLen = max(a.maxLen, len(rs))
			}
		}
	}

	// Trie, in insertion order.
	type edge struct{ class, to int32 }
	children := [][]edge{nil}
	term := []int32{-1}
	index := make(map[uint64]int32)
	for p, seq := range seqs {
		n := int32(0)
		for _, c := range seq {
			k := uint64(n)<<32 | uint64(c)
			next, ok := index[k]
			if !ok {
				next = int32(len(children))
				children = append(children, nil)
				term = append(term, -1)
				children[n] = append(children[n], edge{c, next})
				index[k] = next
			}
			n = next
		}
		term[n] = int32(p)
	}
	index = nil

	// Renumber breadth-first.
	nodes := len(children)
	order := make([]int32, 0, nodes) // new → old
	newID := make([]int32, nodes)    // old → new
	order = append(order, 0)
	for i := 0; i < len(order); i++ {
		old := order[i]
		slices.SortFunc(children[old], func(x, y edge) int { return int(x.class - y.class) })
		for _, e := range children[old] {
			newID[e.to] = int32(len(order))
			order = append(order, e.to)
		}
	}
	a.edgeStart = make([]int32, nodes+1)
	a.edgeClass = make([]int32, 0, nodes-1)
	a.edgeTo = make([]int32, 0, nodes-1)
	a.outHead = make([]int32, nodes)
	a.depth = make([]int32, nodes)
	own := make([]int32, nodes)
	for n, old := range order {
		a.edgeStart[n] = int32(len(a.edgeClass))
		for _, e := range children[old] {
			a.edgeClass = append(a.edgeClass, e.class)
			a.edgeTo = append(a.edgeTo, newID[e.to])
		}
		own[n] = term[old]
	}
	a.edgeStart[nodes] = int32(len(a.edgeClass))

	// Failure and dictionary links, breadth-first.
	a.fail = make([]int32, nodes)
	a.patNext = make([]int32, len(a.pats))
	a.outHead[0] = -1
	for n := int32(0); n < int32(nodes); n++ {
		if n != 0 {
			if p := own[n]; p >= 0 {
				a.patNext[p] = a.outHead[a.fail[n]]
				a.outHead[n] = p
			} else {
				a.outHead[n] = a.outHead[a.fail[n]]
			}
		}
		for i := a.edgeStart[n]; i < a.edgeStart[n+1]; i++ {
			c, child := a.edgeClass[i], a.edgeTo[i]
			a.depth[child] = a.depth[n] + 1
			if n == 0 {
				a.fail[child] = 0
				continue
			}
			a.fail[child] = a.gotoSparse(a.fail[n], c)
		}
	}

	// Dense rows for the shallow nodes: a node's row is its failure's row
	// with its own edges on top (the failure is shallower, so done already).
	k := a.numClasses
	a.denseNodes = int32(min(nodes, max(1, denseBudget/int(k))))
	a.dense = make([]int32, int(a.denseNodes)*int(k))
	for n := int32(0); n < a.denseNodes; n++ {
		row := a.dense[int(n)*int(k) : int(n+1)*int(k)]
		if n != 0 {
			f := a.fail[n]
			copy(row, a.dense[int(f)*int(k):int(f+1)*int(k)])
		}
		for i := a.edgeStart[n]; i < a.edgeStart[n+1]; i++ {
			row[a.edgeClass[i]] = a.edgeTo[i]
		}
	}
	return a, nil
}

// gotoSparse is the transition function computed from edges and failure
// links alone (used while building, before the dense rows exist).
func (a *automaton) gotoSparse(s, c int32) int32 {
	for {
		if t := a.edge(s, c); t >= 0 {
			return t
		}
		if s == 0 {
			return 0
		}
		s = a.fail[s]
	}
}

// edge returns the child of s on class c, or -1.
func (a *automaton) edge(s, c int32) int32 {
	lo, hi := a.edgeStart[s], a.edgeStart[s+1]
	if hi-lo <= 8 {
		for i := lo; i < hi; i++ {
			if ec := a.edgeClass[i]; ec == c {
				return a.edgeTo[i]
			} else if ec > c {
				return -1
			}
		}
		return -1
	}
	for lo < hi {
		m := int32(uint32(lo+hi) >> 1)
		if a.edgeClass[m] < c {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < a.edgeStart[s+1] && a.edgeClass[lo] == c {
		return a.edgeTo[lo]
	}
	return -1
}

// step returns the state after reading class c in state s.
func (a *automaton) step(s, c int32) int32 {
	if c == 0 {
		return 0
	}
	for {
		if s < a.denseNodes {
			return a.dense[int(s)*int(a.numClasses)+int(c)]
		}
		if t := a.edge(s, c); t >= 0 {
			return t
		}
		s = a.fail[s]
	}
}

// class returns the class of a folded rune.
func (a *automaton) class(r rune) int32 {
	if r < 128 {
		return a.asciiClass[r]
	}
	return a.classes[r]
}

func (a *automaton) String() string {
	return fmt.Sprintf("automaton{patterns:%d nodes:%d dense:%d classes:%d maxLen:%d}",
		len(a.pats), len(a.fail), a.denseNodes, a.numClasses, a.maxLen)
}
