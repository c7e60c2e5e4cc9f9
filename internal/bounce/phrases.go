package bounce

import "math"

// phraseSet finds many fixed phrases in a text in one pass (Aho–Corasick,
// compiled to a DFA). The classifier asks, for every recipient and for the
// whole text of every report, which of several hundred phrases occur; one
// strings.Contains per phrase made that the largest cost of Analyze.
//
// It is written here rather than imported: house rules discourage new
// modules, the only Aho–Corasick package on offer here
// (github.com/coregx/ahocorasick) is young and little used, and what is
// needed is small — the lowest matching phrase id, its first offset, the
// earliest of some phrases, with ASCII case folding — and easy to test
// against strings.Contains and strings.Index (see phrases_test.go).
//
// Matching folds ASCII letters of the text to lower case and leaves every
// other byte alone: phrase p is found in text s exactly when
// strings.Contains(lowerASCII(s), p), so callers need not lowercase the
// text. A phrase with an upper-case ASCII letter never matches, as with
// strings.Contains on lowered text. A phraseSet is immutable after
// newPhraseSet and safe for concurrent use.
type phraseSet struct {
	phrases []string
	class   [256]uint16 // byte of the text -> input class; 0: in no phrase
	nclass  int
	// delta is the DFA: delta[row+class], where row is state*nclass, is the
	// next state's row, or -row-1 when the next state ends a phrase (so the
	// scan loops test a sign and only look further on a match).
	delta  []int32
	lowest []int32 // per state: lowest phrase id ending here (own or via suffix), noPhrase if none
	own    []int32 // per state: phrase id ending exactly here, noPhrase if none
	dict   []int32 // per state: nearest proper suffix state that ends a phrase, -1 if none
	dup    []int32 // per phrase id: next phrase id with the same text, noPhrase if none
	maxLen int     // length of the longest phrase
}

const noPhrase = math.MaxInt32

// newPhraseSet compiles phrases; the id of a phrase is its index.
func newPhraseSet(phrases []string) *phraseSet {
	m := &phraseSet{phrases: phrases}
	// Input classes: one per distinct byte used by a phrase. An upper-case
	// ASCII letter of the text reads as its lower-case letter; one in a
	// phrase keeps a class of its own that no byte of the text maps to.
	var pclass [256]uint16
	m.nclass = 1
	for _, p := range phrases {
		for i := 0; i < len(p); i++ {
			if c := p[i]; pclass[c] == 0 {
				pclass[c] = uint16(m.nclass)
				m.nclass++
			}
		}
	}
	m.class = pclass
	for c := 'A'; c <= 'Z'; c++ {
		m.class[c] = pclass[c+32]
	}
	// Trie, with delta rows filled for the trie edges only (-1 elsewhere).
	maxStates := 1
	for _, p := range phrases {
		maxStates += len(p)
	}
	m.delta = make([]int32, 0, maxStates*m.nclass)
	m.own = make([]int32, 0, maxStates)
	m.lowest = make([]int32, 0, maxStates)
	m.dict = make([]int32, 0, maxStates)
	m.addState()
	m.dup = make([]int32, len(phrases))
	for id, p := range phrases {
		m.maxLen = max(m.maxLen, len(p))
		m.dup[id] = noPhrase
		s := int32(0)
		for i := 0; i < len(p); i++ {
			k := int(s)*m.nclass + int(pclass[p[i]])
			if m.delta[k] < 0 {
				m.delta[k] = m.addState()
			}
			s = m.delta[k]
		}
		if m.own[s] == noPhrase {
			m.own[s] = int32(id)
		} else {
			// The same phrase twice: chain the later id to the earlier.
			j := m.own[s]
			for m.dup[j] != noPhrase {
				j = m.dup[j]
			}
			m.dup[j] = int32(id)
		}
	}
	// Breadth-first: failure links turn the trie into a DFA.
	fail := make([]int32, len(m.own))
	queue := make([]int32, 0, len(m.own))
	m.lowest[0] = m.own[0]
	for c := 0; c < m.nclass; c++ {
		if t := m.delta[c]; t > 0 {
			fail[t] = 0
			queue = append(queue, t)
		} else {
			m.delta[c] = 0
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		f := fail[s]
		m.lowest[s] = min(m.own[s], m.lowest[f])
		if m.own[f] != noPhrase {
			m.dict[s] = f
		} else {
			m.dict[s] = m.dict[f]
		}
		row, frow := int(s)*m.nclass, int(f)*m.nclass
		for c := 0; c < m.nclass; c++ {
			if t := m.delta[row+c]; t >= 0 {
				fail[t] = m.delta[frow+c]
				queue = append(queue, t)
			} else {
				m.delta[row+c] = m.delta[frow+c]
			}
		}
	}
	// Encode delta as rows, marking the states that end a phrase.
	enc := make([]int32, len(m.delta)) // also drops the unused capacity
	for k, t := range m.delta {
		enc[k] = t * int32(m.nclass)
		if m.lowest[t] != noPhrase {
			enc[k] = -enc[k] - 1
		}
	}
	m.delta = enc
	return m
}

func (m *phraseSet) addState() int32 {
	s := int32(len(m.own))
	for c := 0; c < m.nclass; c++ {
		m.delta = append(m.delta, -1)
	}
	m.own = append(m.own, noPhrase)
	m.lowest = append(m.lowest, noPhrase)
	m.dict = append(m.dict, -1)
	return s
}

// scanner is the state of one scan over a text, with the tables in locals
// (so the loop does not reload them through the phraseSet).
type scanner struct {
	delta  []int32
	class  *[256]uint16
	nclass int32
	row    int32
}

func (m *phraseSet) scanner() scanner {
	return scanner{delta: m.delta, class: &m.class, nclass: int32(m.nclass)}
}

// step advances the scan by byte c. When the new state ends a phrase it
// returns the state's number, otherwise -1.
func (sc *scanner) step(c byte) int32 {
	v := sc.delta[sc.row+int32(sc.class[c])]
	if v >= 0 {
		sc.row = v
		return -1
	}
	sc.row = -v - 1
	return sc.row / sc.nclass
}

// twoStreams is the text length from which first and any read the text as
// two halves in step: a scan waits on one table load per byte, and two
// independent scans overlap their loads.
const twoStreams = 256

// halves splits s for a scan in two streams: every occurrence of a phrase
// starting before the middle lies wholly in a, every other one in b.
func (m *phraseSet) halves(s string) (a, b string) {
	mid := len(s) / 2
	return s[:min(len(s), mid+m.maxLen-1)], s[mid:]
}

// first returns the lowest id of the phrases that occur in s, or -1.
func (m *phraseSet) first(s string) int {
	best := m.lowest[0] // an empty phrase occurs everywhere
	if len(s) < twoStreams {
		best = m.lowestIn(s, best)
	} else {
		a, b := m.halves(s)
		sa, sb := m.scanner(), m.scanner()
		n := min(len(a), len(b))
		for i := 0; i < n && best > 0; i++ {
			if st := sa.step(a[i]); st >= 0 && m.lowest[st] < best {
				best = m.lowest[st]
			}
			if st := sb.step(b[i]); st >= 0 && m.lowest[st] < best {
				best = m.lowest[st]
			}
		}
		// The longer half goes on alone.
		for i := n; i < len(a) && best > 0; i++ {
			if st := sa.step(a[i]); st >= 0 && m.lowest[st] < best {
				best = m.lowest[st]
			}
		}
		for i := n; i < len(b) && best > 0; i++ {
			if st := sb.step(b[i]); st >= 0 && m.lowest[st] < best {
				best = m.lowest[st]
			}
		}
	}
	if best == noPhrase {
		return -1
	}
	return int(best)
}

// lowestIn returns the lowest of best and the ids of the phrases in s, in
// one stream.
func (m *phraseSet) lowestIn(s string, best int32) int32 {
	sc := m.scanner()
	for i := 0; i < len(s) && best > 0; i++ {
		if st := sc.step(s[i]); st >= 0 && m.lowest[st] < best {
			best = m.lowest[st]
		}
	}
	return best
}

// firstAt returns the lowest id of the phrases that occur in s and the
// offset of its first occurrence, or -1, -1.
func (m *phraseSet) firstAt(s string) (id, at int) {
	best, end := m.lowest[0], 0
	sc := m.scanner()
	for i := 0; i < len(s) && best > 0; i++ {
		// best only ever decreases, so when it becomes l this is the first
		// occurrence of phrase l: an earlier one would have lowered best then.
		if state := sc.step(s[i]); state >= 0 && m.lowest[state] < best {
			best, end = m.lowest[state], i+1
		}
	}
	if best == noPhrase {
		return -1, -1
	}
	return int(best), end - len(m.phrases[best])
}

// any reports whether some phrase occurs in s.
func (m *phraseSet) any(s string) bool {
	if m.lowest[0] != noPhrase {
		return true
	}
	if len(s) < twoStreams {
		return m.lowestIn(s, noPhrase) != noPhrase
	}
	a, b := m.halves(s)
	sa, sb := m.scanner(), m.scanner()
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if sa.step(a[i]) >= 0 || sb.step(b[i]) >= 0 {
			return true
		}
	}
	// The longer half goes on alone.
	for i := n; i < len(a); i++ {
		if sa.step(a[i]) >= 0 {
			return true
		}
	}
	for i := n; i < len(b); i++ {
		if sb.step(b[i]) >= 0 {
			return true
		}
	}
	return false
}

// earliest returns the smallest offset of the first occurrence of a phrase
// in s for which accept(id, offset) holds, or -1: the least of
// strings.Index(lowerASCII(s), phrase) over the accepted phrases. Only the
// first occurrence of each phrase is offered to accept. It stops reading s
// as soon as no later match could start earlier.
func (m *phraseSet) earliest(s string, accept func(id, at int) bool) int {
	best := -1
	seen := make([]bool, len(m.phrases))
	consider := func(state int32, end int) {
		for ; state >= 0; state = m.dict[state] {
			for id := m.own[state]; id != noPhrase; id = m.dup[id] {
				if seen[id] {
					continue
				}
				seen[id] = true
				if at := end - len(m.phrases[id]); (best < 0 || at < best) && accept(int(id), at) {
					best = at
				}
			}
		}
	}
	if m.own[0] != noPhrase {
		consider(0, 0)
	}
	sc := m.scanner()
	for i := 0; i < len(s); i++ {
		if best >= 0 && i+1-m.maxLen >= best {
			break // every match from here on starts at best or later
		}
		if state := sc.step(s[i]); state >= 0 {
			consider(state, i+1)
		}
	}
	return best
}

// markRows sets, in the bitset rows, bit rowOf[id] for every phrase id that
// occurs in s, and reports whether any did. Long texts are read as two
// halves in step, as first does.
func (m *phraseSet) markRows(s string, rowOf []int32, rows []uint64) bool {
	found := false
	if m.own[0] != noPhrase {
		found = m.mark(0, rowOf, rows)
	}
	if len(s) < twoStreams {
		sc := m.scanner()
		for i := 0; i < len(s); i++ {
			if state := sc.step(s[i]); state >= 0 {
				found = m.mark(state, rowOf, rows) || found
			}
		}
		return found
	}
	// Every occurrence lies wholly in a or in b (halves); one in both is
	// marked twice, which changes nothing.
	a, b := m.halves(s)
	sa, sb := m.scanner(), m.scanner()
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if state := sa.step(a[i]); state >= 0 {
			found = m.mark(state, rowOf, rows) || found
		}
		if state := sb.step(b[i]); state >= 0 {
			found = m.mark(state, rowOf, rows) || found
		}
	}
	for i := n; i < len(a); i++ {
		if state := sa.step(a[i]); state >= 0 {
			found = m.mark(state, rowOf, rows) || found
		}
	}
	for i := n; i < len(b); i++ {
		if state := sb.step(b[i]); state >= 0 {
			found = m.mark(state, rowOf, rows) || found
		}
	}
	return found
}

// mark sets the row bits of the phrases that end in state, its own and
// those of its suffixes, and reports whether there was one.
func (m *phraseSet) mark(state int32, rowOf []int32, rows []uint64) bool {
	found := false
	for ; state >= 0; state = m.dict[state] {
		for id := m.own[state]; id != noPhrase; id = m.dup[id] {
			r := rowOf[id]
			rows[r/64] |= 1 << (r % 64)
			found = true
		}
	}
	return found
}
