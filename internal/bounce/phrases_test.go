package bounce

import (
	"math/rand"
	"path/filepath"
	"strings"
	"testing"
)

// naiveFirst is what phraseSet.first must return: the lowest index of a
// phrase that strings.Contains finds in the lowered text.
func naiveFirst(phrases []string, s string) int {
	low := lowerASCII(s)
	for i, p := range phrases {
		if strings.Contains(low, p) {
			return i
		}
	}
	return -1
}

func checkPhraseSet(t *testing.T, phrases []string, texts []string) {
	t.Helper()
	m := newPhraseSet(phrases)
	for _, s := range texts {
		if got, want := m.first(s), naiveFirst(phrases, s); got != want {
			t.Fatalf("first(%q) over %q = %d, want %d", s, phrases, got, want)
		}
		id, at := m.firstAt(s)
		wantAt := -1
		if want := naiveFirst(phrases, s); want >= 0 {
			wantAt = strings.Index(lowerASCII(s), phrases[want])
		}
		if id != m.first(s) || at != wantAt {
			t.Fatalf("firstAt(%q) over %q = %d, %d, want %d, %d", s, phrases, id, at, m.first(s), wantAt)
		}
		if got, want := m.any(s), naiveFirst(phrases, s) >= 0; got != want {
			t.Fatalf("any(%q) over %q = %v, want %v", s, phrases, got, want)
		}
		// markRows with one row per phrase marks exactly the phrases in s.
		rowOf := make([]int32, len(phrases))
		for i := range rowOf {
			rowOf[i] = int32(i)
		}
		rows := make([]uint64, (len(phrases)+63)/64)
		any := m.markRows(s, rowOf, rows)
		for i, p := range phrases {
			if got, want := rows[i/64]&(1<<(i%64)) != 0, strings.Contains(lowerASCII(s), p); got != want {
				t.Fatalf("markRows(%q) over %q: phrase %q marked %v, want %v", s, phrases, p, got, want)
			}
		}
		if any != (naiveFirst(phrases, s) >= 0) {
			t.Fatalf("markRows(%q) over %q reported %v", s, phrases, any)
		}
		for _, keep := range []func(id, at int) bool{
			func(id, at int) bool { return true },
			func(id, at int) bool { return id%2 == 0 },
			func(id, at int) bool { return at%3 != 1 },
		} {
			want := -1
			for i, p := range phrases {
				if at := strings.Index(lowerASCII(s), p); at >= 0 && keep(i, at) && (want < 0 || at < want) {
					want = at
				}
			}
			if got := m.earliest(s, keep); got != want {
				t.Fatalf("earliest(%q) over %q = %d, want %d", s, phrases, got, want)
			}
		}
	}
}

func TestPhraseSetTable(t *testing.T) {
	checkPhraseSet(t, []string{"he", "she", "his", "hers"}, []string{"", "ushers", "HIS", "xhex", "sh", "hehe"})
	// Duplicates, prefixes, suffixes and an upper-case phrase that never matches.
	checkPhraseSet(t, []string{"abcdef", "cd", "cd", "Cd", "bcd", "f"}, []string{"abcdef", "ABCDEF", "xcdx", "CD", "cD"})
	// An empty phrase occurs everywhere, as with strings.Contains.
	checkPhraseSet(t, []string{"x", ""}, []string{"", "x", "y"})
	// UTF-8 phrases and texts.
	checkPhraseSet(t, []string{"boîte pleine", "不在", "配信"}, []string{"BOÎTE PLEINE", "Boîte pleine", "不在です", "配 信", "\xe4\xb8"})
	checkPhraseSet(t, nil, []string{"", "a"})
}

// TestPhraseSetRandom compares phraseSet with strings.Contains and
// strings.Index on random phrases and texts over a small alphabet, where
// overlaps are frequent.
func TestPhraseSetRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	word := func(n int) string {
		const alpha = "abcAB. é"
		var b strings.Builder
		for i := 0; i < n; i++ {
			b.WriteByte(alpha[rng.Intn(len(alpha))])
		}
		return b.String()
	}
	for round := 0; round < 300; round++ {
		phrases := make([]string, rng.Intn(12))
		for i := range phrases {
			phrases[i] = strings.ToLower(word(1 + rng.Intn(5)))
		}
		texts := make([]string, 20)
		for i := range texts {
			texts[i] = word(rng.Intn(40))
		}
		// Long texts, read as two streams (see twoStreams), with a phrase
		// or two planted at random, near the middle too.
		for i := 0; i < 6; i++ {
			n := twoStreams + rng.Intn(3*twoStreams)
			t := []byte(word(n))
			if len(phrases) > 0 {
				for k := 0; k < 2; k++ {
					p := phrases[rng.Intn(len(phrases))]
					at := rng.Intn(n)
					if k == 0 {
						at = max(0, n/2-rng.Intn(len(p)+1))
					}
					copy(t[at:], p)
				}
			}
			texts = append(texts, string(t))
		}
		checkPhraseSet(t, phrases, texts)
	}
}

// TestRuleSetsMatchLists checks the compiled rule table against one
// strings.Contains per phrase, on every phrase itself and variants of it.
func TestRuleSetsMatchLists(t *testing.T) {
	var texts []string
	for _, ru := range rules.Rules {
		for _, p := range ru.Phrases {
			texts = append(texts, p, "x "+strings.ToUpper(p)+" y", p[:len(p)/2])
		}
		texts = append(texts, ru.Example)
	}
	for _, s := range texts {
		low := maskData(lowerASCII(s))
		if got, want := rules.match(low, ruleQuery{}), naiveMatch(rules, low, ruleQuery{}); got != want {
			t.Errorf("match(%q) = %d, want %d", low, got, want)
		}
	}
}

// naiveMatch is ruleTable.match with one strings.Contains per phrase.
func naiveMatch(t *ruleTable, low string, q ruleQuery) int {
	var rows []int
	for i := range t.Rules {
		r := &t.Rules[i]
		fired := false
		for _, p := range r.Phrases {
			fired = fired || strings.Contains(low, p)
		}
		for _, p := range r.Pairs {
			if a := strings.Index(low, p[0]); a >= 0 && strings.Contains(low[a+len(p[0]):], p[1]) {
				fired = true
			}
		}
		if fired && q.allows(r) {
			rows = append(rows, i)
		}
	}
	best := -1
	for _, i := range rows {
		if t.overridden(i, rows) {
			continue
		}
		if best < 0 || t.rank[i] < t.rank[best] {
			best = i
		}
	}
	return best
}

// BenchmarkMatchRulesText runs the rule matcher over the lowered fixtures,
// whole: the cost of one pass of the largest phraseSet per byte of text.
func BenchmarkMatchRulesText(b *testing.B) {
	var texts []string
	total := 0
	for _, raw := range loadFiles(b, filepath.Join(mailDir, "*.eml")) {
		texts = append(texts, lowerASCII(string(raw)))
		total += len(raw)
	}
	b.SetBytes(int64(total))
	for b.Loop() {
		for _, s := range texts {
			rules.match(s, ruleQuery{})
		}
	}
}

// TestPhraseSetTwoStreamsBoundary plants one phrase at every offset of long
// texts, across the middle where the two streams meet, and at the ends.
func TestPhraseSetTwoStreamsBoundary(t *testing.T) {
	phrases := []string{"zzneedle", "le", "needle in a haystack"}
	m := newPhraseSet([]string{phrases[2]})
	for _, n := range []int{twoStreams, twoStreams + 1, 3*twoStreams + 7} {
		for at := 0; at+len(phrases[2]) <= n; at++ {
			b := []byte(strings.Repeat("x", n))
			copy(b[at:], "NEEDLE in a haystack")
			s := string(b)
			if m.first(s) != 0 || !m.any(s) {
				t.Fatalf("n=%d at=%d: first = %d, any = %v; want 0, true", n, at, m.first(s), m.any(s))
			}
		}
		if s := strings.Repeat("x", n); m.first(s) != -1 || m.any(s) {
			t.Fatalf("n=%d: found a phrase in filler", n)
		}
	}
	checkPhraseSet(t, phrases, []string{strings.Repeat("x", 300) + "zzneedle" + strings.Repeat("y", 300), strings.Repeat("le", 400)})
}
