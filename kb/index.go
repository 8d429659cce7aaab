package kb

import (
	"cmp"
	"math"
	"slices"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/switchboard-chat/switchboard"
)

// BM25 parameters.
const (
	bm25K1 = 1.2
	bm25B  = 0.75
	// headingBoost is how many times the heading path counts toward a
	// passage's terms (the document title counts once).
	headingBoost = 2
	// cjkUnigramWeight is the weight in a query of a one-character CJK
	// term, relative to words and bigrams.
	cjkUnigramWeight = 0.5
)

// Threshold decides which hits are relevant enough to return. A question
// whose words the knowledge base does not have ("what is the capital of
// Peru") must return nothing, so that the assistant says it does not know
// instead of quoting an unrelated passage.
type Threshold struct {
	// MinScore is the least BM25 score of a returned passage.
	MinScore float64
	// MinCoverage is the least share (0..1) of the query's weight, the sum
	// of the IDF of its terms, that a passage matches. Query terms that no
	// passage of the inbox has count with the highest IDF, so a question
	// about something else entirely scores close to 0.
	MinCoverage float64
	// MinRelative drops hits scoring below this share of the best hit.
	MinRelative float64
}

// DefaultThreshold is tuned on the default documents and the tests: every
// paraphrased question of the tests hits, no unrelated question does.
func DefaultThreshold() Threshold {
	return Threshold{MinScore: 0.1, MinCoverage: 0.3, MinRelative: 0.3}
}

// Index is an in-memory BM25 index of passages, partitioned by inbox: each
// inbox has its own statistics, and a search sees one inbox only. It is
// safe for concurrent use; searches run in parallel with each other.
type Index struct {
	mu        sync.RWMutex
	parts     map[string]*partition // by inbox ID
	docs      map[string]string     // document ID -> inbox ID
	threshold Threshold
	scratch   sync.Pool // of *scratch
}

type partition struct {
	entries  []*entry // by slot; nil once removed
	live     int
	totalLen int                // tokens of the live entries
	terms    map[string]int32   // term -> index in postings
	postings [][]posting        // by term index; empty once a term's passages are gone
	docs     map[string][]int32 // document ID -> slots
}

// list returns the postings of a term.
func (pt *partition) list(term string) []posting {
	if id, ok := pt.terms[term]; ok {
		return pt.postings[id]
	}
	return nil
}

type entry struct {
	p     switchboard.Passage
	terms int32 // length in tokens
}

type posting struct {
	slot int32
	tf   int32
}

type scratch struct {
	acc     []accum
	touched []int32
}

type accum struct {
	score float64
	cover float64 // sum of the weighted IDF of the matched query terms
}

// NewIndex returns an empty index with the DefaultThreshold.
func NewIndex() *Index {
	return &Index{
		parts:     make(map[string]*partition),
		docs:      make(map[string]string),
		threshold: DefaultThreshold(),
	}
}

// SetThreshold changes the relevance threshold of later searches.
func (ix *Index) SetThreshold(t Threshold) {
	ix.mu.Lock()
	ix.threshold = t
	ix.mu.Unlock()
}

// Threshold returns the relevance threshold.
func (ix *Index) Threshold() Threshold {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.threshold
}

// analyzed is a passage with its term frequencies, computed outside the lock.
type analyzed struct {
	p     switchboard.Passage
	tf    map[string]int32
	terms int32
}

func analyze(p switchboard.Passage) analyzed {
	toks := passageTokens(p)
	tf := make(map[string]int32, len(toks)/2+1)
	for _, t := range toks {
		tf[t]++
	}
	return analyzed{p: p, tf: tf, terms: int32(len(toks))}
}

// passageTokens are the terms a passage is indexed under: its title, its
// heading path (headingBoost times) and its text.
func passageTokens(p switchboard.Passage) []string {
	toks := appendTokens(nil, p.Title)
	if p.Heading != "" {
		h := appendTokens(nil, p.Heading)
		for range headingBoost {
			toks = append(toks, h...)
		}
	}
	return appendTokens(toks, p.Text)
}

// Add indexes passages under their InboxID and DocumentID. It does not
// look for passages already indexed: to update a document, use
// ReplaceDocument.
func (ix *Index) Add(passages []switchboard.Passage) {
	as := analyzeAll(passages)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.add(as)
}

// ReplaceDocument removes the passages of document docID and adds
// passages, at once: no search sees the document missing or twice.
func (ix *Index) ReplaceDocument(docID string, passages []switchboard.Passage) {
	as := analyzeAll(passages)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.remove(docID)
	ix.add(as)
}

// RemoveDocument removes the passages of document docID and reports how
// many there were.
func (ix *Index) RemoveDocument(docID string) int {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.remove(docID)
}

// Len returns the number of passages of an inbox ("" = all inboxes).
func (ix *Index) Len(inboxID string) int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if inboxID != "" {
		if pt := ix.parts[inboxID]; pt != nil {
			return pt.live
		}
		return 0
	}
	n := 0
	for _, pt := range ix.parts {
		n += pt.live
	}
	return n
}

func analyzeAll(passages []switchboard.Passage) []analyzed {
	as := make([]analyzed, len(passages))
	for i, p := range passages {
		as[i] = analyze(p)
	}
	return as
}

func (ix *Index) add(as []analyzed) {
	for _, a := range as {
		pt := ix.parts[a.p.InboxID]
		if pt == nil {
			pt = &partition{terms: make(map[string]int32), docs: make(map[string][]int32)}
			ix.parts[a.p.InboxID] = pt
		}
		slot := int32(len(pt.entries))
		pt.entries = append(pt.entries, &entry{p: a.p, terms: a.terms})
		pt.live++
		pt.totalLen += int(a.terms)
		pt.docs[a.p.DocumentID] = append(pt.docs[a.p.DocumentID], slot)
		ix.docs[a.p.DocumentID] = a.p.InboxID
		for t, n := range a.tf {
			id, ok := pt.terms[t]
			if !ok {
				id = int32(len(pt.postings))
				pt.terms[t] = id
				pt.postings = append(pt.postings, nil)
			}
			pt.postings[id] = append(pt.postings[id], posting{slot: slot, tf: n})
		}
	}
}

func (ix *Index) remove(docID string) int {
	inbox, ok := ix.docs[docID]
	if !ok {
		return 0
	}
	delete(ix.docs, docID)
	pt := ix.parts[inbox]
	slots := pt.docs[docID]
	delete(pt.docs, docID)
	for _, slot := range slots {
		e := pt.entries[slot]
		seen := make(map[string]bool)
		for _, t := range passageTokens(e.p) {
			if seen[t] {
				continue
			}
			seen[t] = true
			id, ok := pt.terms[t]
			if !ok {
				continue
			}
			list := pt.postings[id]
			for i := range list {
				if list[i].slot == slot {
					list[i] = list[len(list)-1]
					list = list[:len(list)-1]
					break
				}
			}
			if len(list) == 0 {
				list = nil
			}
			pt.postings[id] = list
		}
		pt.entries[slot] = nil
		pt.live--
		pt.totalLen -= int(e.terms)
	}
	if pt.live == 0 {
		delete(ix.parts, inbox)
	} else if dead := len(pt.entries) - pt.live; dead > 256 && dead > pt.live {
		pt.compact()
	}
	return len(slots)
}

// compact drops the slots of removed passages.
func (pt *partition) compact() {
	remap := make([]int32, len(pt.entries))
	entries := make([]*entry, 0, pt.live)
	for i, e := range pt.entries {
		remap[i] = int32(len(entries))
		if e != nil {
			entries = append(entries, e)
		}
	}
	pt.entries = entries
	// Drop the terms no passage has any more.
	terms := make(map[string]int32, len(pt.terms))
	var postings [][]posting
	for t, id := range pt.terms {
		list := pt.postings[id]
		if len(list) == 0 {
			continue
		}
		for i := range list {
			list[i].slot = remap[list[i].slot]
		}
		terms[t] = int32(len(postings))
		postings = append(postings, list)
	}
	pt.terms, pt.postings = terms, postings
	for d, slots := range pt.docs {
		for i := range slots {
			slots[i] = remap[slots[i]]
		}
		pt.docs[d] = slots
	}
}

// queryTerm is a distinct term of a query with its weight.
type queryTerm struct {
	term   string
	weight float64
	// prev and next are the CJK bigrams of the query that overlap this
	// bigram ("限流" and "规则" for "流规" in "限流规则").
	prev, next string
}

func queryTerms(query string) []queryTerm {
	var qs []queryTerm
	index := make(map[string]int)
	last := -1 // index in qs of the previous bigram
	var lastRune rune
	for _, t := range Tokenize(query) {
		r1, n1 := utf8.DecodeRuneInString(t)
		bigram := false
		if isCJK(r1) {
			if _, n2 := utf8.DecodeRuneInString(t[n1:]); n2 > 0 && n1+n2 == len(t) {
				bigram = true
			}
		}
		i, seen := index[t]
		if !seen {
			w := 1.0
			if isCJKUnigram(t) {
				w = cjkUnigramWeight
			}
			if isHiragana(t) {
				w /= 2 // mostly grammar: particles, endings
			}
			i = len(qs)
			index[t] = i
			qs = append(qs, queryTerm{term: t, weight: w})
		}
		if !bigram {
			continue
		}
		if last >= 0 && lastRune == r1 {
			qs[last].next = t
			if qs[i].prev == "" {
				qs[i].prev = qs[last].term
			}
		}
		last = i
		lastRune, _ = utf8.DecodeLastRuneInString(t)
	}
	return qs
}

func isHiragana(t string) bool {
	for _, r := range t {
		if !unicode.Is(unicode.Hiragana, r) {
			return false
		}
	}
	return true
}

// crossesWords reports whether q is a CJK bigram the partition does not
// have, next to one it has: most likely the question's bigram across a word
// boundary ("限流规则" gives "流规"), which must not count as a word the
// knowledge base lacks. An unknown bigram on its own ("开源吗") counts.
func (pt *partition) crossesWords(q queryTerm) bool {
	return (q.prev != "" && len(pt.list(q.prev)) > 0) || (q.next != "" && len(pt.list(q.next)) > 0)
}

// Search returns up to k passages of an inbox ("" = every inbox) that are
// relevant to query under the index's Threshold, best first, with Score set.
// It returns nil when nothing is relevant.
func (ix *Index) Search(inboxID, query string, k int) []switchboard.Passage {
	ix.mu.RLock()
	th := ix.threshold
	ix.mu.RUnlock()
	return ix.search(inboxID, query, k, th)
}

func (ix *Index) search(inboxID, query string, k int, th Threshold) []switchboard.Passage {
	if k <= 0 {
		return nil
	}
	qs := queryTerms(query)
	if len(qs) == 0 {
		return nil
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var hits []switchboard.Passage
	if inboxID != "" {
		if pt := ix.parts[inboxID]; pt != nil {
			hits = ix.searchPartition(pt, qs, k, th)
		}
	} else {
		for _, pt := range ix.parts {
			hits = append(hits, ix.searchPartition(pt, qs, k, th)...)
		}
		sortPassages(hits)
		hits = cutRelative(hits, k, th)
	}
	return hits
}

func (ix *Index) searchPartition(pt *partition, qs []queryTerm, k int, th Threshold) []switchboard.Passage {
	if pt.live == 0 {
		return nil
	}
	sc, _ := ix.scratch.Get().(*scratch)
	if sc == nil {
		sc = new(scratch)
	}
	defer ix.scratch.Put(sc)
	if cap(sc.acc) < len(pt.entries) {
		sc.acc = make([]accum, len(pt.entries))
	}
	acc := sc.acc[:len(pt.entries)]
	touched := sc.touched[:0]

	n := float64(pt.live)
	avgdl := float64(pt.totalLen) / n
	var total float64 // weight of the whole query
	for _, q := range qs {
		list := pt.list(q.term)
		df := float64(len(list))
		idf := math.Log(1 + (n-df+0.5)/(df+0.5))
		wi := q.weight * idf
		ci := wi // weight toward coverage
		if isCJKUnigram(q.term) {
			ci /= 2 // characters of a word the passage lacks are no match
		}
		if len(list) > 0 || !pt.crossesWords(q) {
			total += ci
		}
		for _, p := range list {
			a := &acc[p.slot]
			if a.cover == 0 {
				touched = append(touched, p.slot)
			}
			tf := float64(p.tf)
			dl := float64(pt.entries[p.slot].terms)
			a.score += wi * tf * (bm25K1 + 1) / (tf + bm25K1*(1-bm25B+bm25B*dl/avgdl))
			a.cover += ci
		}
	}
	var hits []switchboard.Passage
	for _, slot := range touched {
		a := acc[slot]
		acc[slot] = accum{}
		if a.score < th.MinScore || a.cover < th.MinCoverage*total {
			continue
		}
		p := pt.entries[slot].p
		p.Score = a.score
		hits = append(hits, p)
	}
	sc.touched = touched[:0]
	sortPassages(hits)
	return cutRelative(hits, k, th)
}

func sortPassages(ps []switchboard.Passage) {
	slices.SortFunc(ps, func(a, b switchboard.Passage) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		if c := cmp.Compare(a.DocumentID, b.DocumentID); c != 0 {
			return c
		}
		return cmp.Compare(a.Ord, b.Ord)
	})
}

func cutRelative(ps []switchboard.Passage, k int, th Threshold) []switchboard.Passage {
	if len(ps) > k {
		ps = ps[:k]
	}
	for i, p := range ps {
		if p.Score < th.MinRelative*ps[0].Score {
			return ps[:i]
		}
	}
	if len(ps) == 0 {
		return nil
	}
	return ps
}
