package bounce

import (
	_ "embed"
	"fmt"
	"math/bits"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// The rule table (rules.yaml) says which words of a receiver's reply show
// which reason. It is data beside the code: each row has its phrases and
// ordered phrase pairs, optional limits, the reasons that override it, its
// source and an example; the precedence between reasons is one list. See
// the head of rules.yaml for how rows are chosen.

//go:embed rules.yaml
var rulesYAML []byte

// Tiers of a row.
const (
	tierStrong = "strong" // a wording more specific than any whole reason
	tierNormal = "normal" // ranked by the precedence of its reason
	tierWeak   = "weak"   // only when nothing else fires
)

// ruleRow is one row of rules.yaml.
type ruleRow struct {
	Reason       Reason      `yaml:"reason"`
	Tier         string      `yaml:"tier"`
	Phrases      []string    `yaml:"phrases"`
	Pairs        [][2]string `yaml:"pairs"`
	Status       []string    `yaml:"status"`    // classes: "4", "5"
	Commands     []string    `yaml:"commands"`  // CONN, HELO, MAIL, RCPT, DATA
	Providers    []string    `yaml:"providers"` // provider slugs
	MTAs         []string    `yaml:"mtas"`      // reporting software
	Actions      []string    `yaml:"actions"`   // failed, delayed
	OverriddenBy []Reason    `yaml:"overridden_by"`
	BeatsStatus  bool        `yaml:"beats_status"` // wins over a status of StatusDecides
	Source       string      `yaml:"source"`
	Example      string      `yaml:"example"`
}

// limited reports whether the row fires only under some limit.
func (r *ruleRow) limited() bool {
	return len(r.Status) > 0 || len(r.Commands) > 0 || len(r.Providers) > 0 || len(r.MTAs) > 0 || len(r.Actions) > 0
}

// ruleTable is rules.yaml compiled. It is immutable after loadRules and safe
// for concurrent use.
type ruleTable struct {
	Precedence []Reason  `yaml:"precedence"`
	Rules      []ruleRow `yaml:"rules"`
	// StatusDecides are the reasons whose enhanced status codes decide by
	// themselves (statusReasons), unless the row that fired beats status.
	StatusDecides []Reason `yaml:"status_decides"`
	// AddressOnly are wordings that only ever name a missing address.
	AddressOnly []string `yaml:"address_only"`

	rank        []int // per row: its place in the order of choice (lower first)
	set         *phraseSet
	phraseRow   []int32    // per phrase id: its row, or len(Rules)+k for the first word of pairs[k]
	pairs       []rulePair // every ordered pair of every row
	words       int        // bitset words per match: one bit per row, then one per pair
	addressOnly *phraseSet // AddressOnly compiled
}

// rules is the table the classifier uses, compiled once at start and never
// changed after (tests swap in tables of their own, never in parallel).
var rules = mustLoadRules(rulesYAML)

func mustLoadRules(b []byte) *ruleTable {
	t, err := loadRules(b)
	if err != nil {
		panic(fmt.Sprintf("bounce: rules.yaml: %v", err))
	}
	return t
}

// loadRules parses and compiles a rule table.
func loadRules(b []byte) (*ruleTable, error) {
	var t ruleTable
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	known := map[Reason]bool{}
	for _, r := range AllReasons {
		known[r] = true
	}
	prec := map[Reason]int{}
	for i, r := range t.Precedence {
		if !known[r] {
			return nil, fmt.Errorf("precedence: unknown reason %q", r)
		}
		if _, dup := prec[r]; dup {
			return nil, fmt.Errorf("precedence: %q twice", r)
		}
		prec[r] = i
	}
	var phrases []string
	t.rank = make([]int, len(t.Rules))
	for i := range t.Rules {
		r := &t.Rules[i]
		if r.Tier == "" {
			r.Tier = tierNormal
		}
		if !known[r.Reason] {
			return nil, fmt.Errorf("row %d: unknown reason %q", i, r.Reason)
		}
		for _, o := range r.OverriddenBy {
			if !known[o] {
				return nil, fmt.Errorf("row %d: overridden_by: unknown reason %q", i, o)
			}
		}
		switch r.Tier {
		case tierStrong:
			t.rank[i] = i
		case tierNormal:
			p, ok := prec[r.Reason]
			if !ok {
				return nil, fmt.Errorf("row %d: reason %q is not in precedence", i, r.Reason)
			}
			t.rank[i] = 1<<20 + p<<10 + i
		case tierWeak:
			t.rank[i] = 2<<20 + i
		default:
			return nil, fmt.Errorf("row %d: unknown tier %q", i, r.Tier)
		}
		for _, p := range r.Phrases {
			if p == "" || p != lowerASCII(p) {
				return nil, fmt.Errorf("row %d: phrase %q is empty or not lowercase", i, p)
			}
			phrases = append(phrases, p)
			t.phraseRow = append(t.phraseRow, int32(i))
		}
		for _, p := range r.Pairs {
			if p[0] == "" || p[1] == "" || p[0] != lowerASCII(p[0]) || p[1] != lowerASCII(p[1]) {
				return nil, fmt.Errorf("row %d: pair %q is empty or not lowercase", i, p)
			}
		}
		for _, p := range r.Pairs {
			t.pairs = append(t.pairs, rulePair{row: i, first: p[0], second: p[1]})
		}
	}
	// A pair's first word is found in the same scan as the phrases; only
	// then is the order of its two words checked.
	for k, p := range t.pairs {
		phrases = append(phrases, p.first)
		t.phraseRow = append(t.phraseRow, int32(len(t.Rules)+k))
	}
	t.set = newPhraseSet(phrases)
	for _, r := range t.StatusDecides {
		if !known[r] {
			return nil, fmt.Errorf("status_decides: unknown reason %q", r)
		}
	}
	for _, p := range t.AddressOnly {
		if p == "" || p != lowerASCII(p) {
			return nil, fmt.Errorf("address_only: %q is empty or not lowercase", p)
		}
	}
	t.addressOnly = newPhraseSet(t.AddressOnly)
	t.words = (len(t.Rules) + len(t.pairs) + 63) / 64
	return &t, nil
}

// statusDecides reports whether a status that statusReasons reads as r
// decides by itself.
func (t *ruleTable) statusDecides(r Reason) bool {
	return r != "" && slices.Contains(t.StatusDecides, r)
}

// rulePair is an ordered pair of words of a row.
type rulePair struct {
	row           int
	first, second string
}

// ruleQuery is what a row's limits are checked against.
type ruleQuery struct {
	class    byte   // '4' or '5' (status, else reply code); 0 when none
	command  string // upper case
	provider string
	mta      string
	action   string
}

func (q ruleQuery) allows(r *ruleRow) bool {
	if len(r.Status) > 0 && (q.class == 0 || !slices.Contains(r.Status, string(q.class))) {
		return false
	}
	if len(r.Commands) > 0 && !slices.Contains(r.Commands, q.command) {
		return false
	}
	if len(r.Providers) > 0 && !slices.Contains(r.Providers, q.provider) {
		return false
	}
	if len(r.MTAs) > 0 && !slices.Contains(r.MTAs, q.mta) {
		return false
	}
	if len(r.Actions) > 0 && !slices.Contains(r.Actions, q.action) {
		return false
	}
	return true
}

// match returns the row chosen for a masked, lower-case text under q, or -1.
func (t *ruleTable) match(low string, q ruleQuery) int {
	var cands [16]int
	rows := t.fired(low, q, cands[:0])
	best := -1
	for _, i := range rows {
		if best >= 0 && t.rank[i] >= t.rank[best] {
			continue
		}
		if t.overridden(i, rows) {
			continue
		}
		best = i
	}
	return best
}

// fires reports whether a row of reason r that is not weak fires on a
// masked, lower-case text under q, whether or not it would be chosen.
func (t *ruleTable) fires(low string, q ruleQuery, r Reason) bool {
	var cands [16]int
	for _, i := range t.fired(low, q, cands[:0]) {
		if t.Rules[i].Reason == r && t.Rules[i].Tier != tierWeak {
			return true
		}
	}
	return false
}

// fired appends to rows the rows that fire on a masked, lower-case text
// and whose limits hold under q.
func (t *ruleTable) fired(low string, q ruleQuery, rows []int) []int {
	if low == "" {
		return rows
	}
	var small [4]uint64
	var fired []uint64
	if t.words <= len(small) {
		fired = small[:t.words]
	} else {
		fired = make([]uint64, t.words)
	}
	any := t.set.markRows(low, t.phraseRow, fired)
	if !any {
		return rows
	}
	any = false
	for k, p := range t.pairs {
		if v := len(t.Rules) + k; fired[v/64]&(1<<(v%64)) != 0 {
			fired[v/64] &^= 1 << (v % 64)
			if a := strings.Index(low, p.first); strings.Contains(low[a+len(p.first):], p.second) {
				fired[p.row/64] |= 1 << (p.row % 64)
			}
		}
	}
	for _, w := range fired {
		any = any || w != 0
	}
	if !any {
		return rows
	}
	for w, word := range fired {
		for word != 0 {
			b := bits.TrailingZeros64(word)
			word &^= 1 << b
			i := w*64 + b
			if q.allows(&t.Rules[i]) {
				rows = append(rows, i)
			}
		}
	}
	return rows
}

// overridden reports whether another of rows has a reason row i yields to.
func (t *ruleTable) overridden(i int, rows []int) bool {
	for _, o := range t.Rules[i].OverriddenBy {
		for _, j := range rows {
			if j != i && t.Rules[j].Reason == o {
				return true
			}
		}
	}
	return false
}

// reason is the reason of the row chosen for text (not yet masked or
// lowered) under q, or "".
func (t *ruleTable) reason(text string, q ruleQuery) Reason {
	if i := t.match(maskLower(text), q); i >= 0 {
		return t.Rules[i].Reason
	}
	return ""
}
