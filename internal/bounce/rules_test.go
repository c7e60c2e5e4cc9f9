package bounce

import (
	"strings"
	"testing"
)

// TestRuleTableRows holds every row of rules.yaml to the table's contract:
// a source, an example, phrases or pairs, and an example that classifies to
// the row's reason when the row's limits hold.
func TestRuleTableRows(t *testing.T) {
	if len(rules.Rules) == 0 {
		t.Fatal("rules.yaml has no rows")
	}
	for i, r := range rules.Rules {
		name := string(r.Reason) + " row " + itoa(i)
		if strings.TrimSpace(r.Source) == "" {
			t.Errorf("%s: no source", name)
		}
		if strings.TrimSpace(r.Example) == "" {
			t.Errorf("%s: no example", name)
			continue
		}
		if len(r.Phrases) == 0 && len(r.Pairs) == 0 {
			t.Errorf("%s: no phrases", name)
		}
		ev := exampleEvidence(r)
		if got := decide(ev).Reason; got != r.Reason {
			t.Errorf("%s: example %q classifies as %s", name, r.Example, got)
		}
		if got := rules.match(maskData(lowerASCII(r.Example)), queryOf(ev)); got < 0 || rules.Rules[got].Reason != r.Reason {
			t.Errorf("%s: example %q is not matched by a row of its reason (row %d)", name, r.Example, got)
		}
	}
}

// exampleEvidence is the evidence a bounce quoting only the row's example
// gives, with the row's limits met.
func exampleEvidence(r ruleRow) evidence {
	ev := evidence{Diagnostic: r.Example, Status: statusOf(r.Example), ReplyCode: findReplyCode(r.Example),
		Command: commandOf(r.Example), Action: ActionFailed}
	if len(r.Providers) > 0 {
		ev.Provider = r.Providers[0]
	}
	if len(r.MTAs) > 0 {
		ev.MTA = r.MTAs[0]
	}
	if len(r.Commands) > 0 {
		ev.Command = r.Commands[0]
	}
	if len(r.Actions) > 0 {
		ev.Action = r.Actions[0]
	}
	return ev
}

func queryOf(ev evidence) ruleQuery {
	q := ruleQuery{command: ev.Command, provider: ev.Provider, mta: ev.MTA, action: ev.Action}
	if ev.Status != "" {
		q.class = ev.Status[0]
	} else if ev.ReplyCode != "" {
		q.class = ev.ReplyCode[0]
	}
	return q
}

// TestRuleTableNoShadowedPhrases fails when a phrase can never decide: a
// phrase of a row ranked no later (and not limited or overridable) is a
// substring of it, so that row always fires with it and wins.
func TestRuleTableNoShadowedPhrases(t *testing.T) {
	for i, r := range rules.Rules {
		for k, p := range r.Phrases {
			for j, s := range rules.Rules {
				if s.limited() || len(s.OverriddenBy) > 0 || rules.rank[j] > rules.rank[i] {
					continue
				}
				for m, q := range s.Phrases {
					if j == i && m >= k {
						break
					}
					if strings.Contains(p, q) {
						t.Errorf("%s row %d: phrase %q can never decide: %s row %d has %q", r.Reason, i, p, s.Reason, j, q)
					}
				}
			}
		}
	}
}

// TestRuleTableLoadErrors checks that a malformed table is refused.
func TestRuleTableLoadErrors(t *testing.T) {
	for _, y := range []string{
		"precedence: [userunknown]\nrules:\n  - reason: nosuchreason\n    phrases: [x]\n",
		"precedence: [userunknown]\nrules:\n  - reason: mailboxfull\n    phrases: [x]\n",
		"precedence: [userunknown]\nrules:\n  - reason: userunknown\n    phrases: [Upper]\n",
		"precedence: [userunknown]\nrules:\n  - reason: userunknown\n    tier: sometimes\n    phrases: [x]\n",
		"precedence: [userunknown]\nrules:\n  - reason: userunknown\n    phrase: [x]\n",
	} {
		if _, err := loadRules([]byte(y)); err == nil {
			t.Errorf("loadRules accepted %q", y)
		}
	}
}

// TestRuleTablePhrasesSurviveMasking: a phrase that masking would rewrite
// could never match the masked text it is matched against.
func TestRuleTablePhrasesSurviveMasking(t *testing.T) {
	for i, r := range rules.Rules {
		ps := append([]string(nil), r.Phrases...)
		for _, p := range r.Pairs {
			ps = append(ps, p[0], p[1])
		}
		for _, p := range ps {
			if m := maskData(p); m != p {
				t.Errorf("%s row %d: phrase %q reads %q after masking", r.Reason, i, p, m)
			}
		}
	}
	for _, p := range rules.AddressOnly {
		if m := maskData(p); m != p {
			t.Errorf("address_only: %q reads %q after masking", p, m)
		}
	}
}

// TestStatusDecidesAndExceptions: a status of status_decides wins over the
// words unless the row that fired beats status; overridden_by sets a row
// aside when the named reason also fires.
func TestStatusDecidesAndExceptions(t *testing.T) {
	table := func(beats bool) *ruleTable {
		y := "precedence: [blocked, spamdetected]\nstatus_decides: [mailboxfull]\nrules:\n" +
			"  - reason: spamdetected\n    phrases: [spam]\n    source: s\n    example: e\n"
		if beats {
			y += "    beats_status: true\n"
		}
		y += "  - reason: blocked\n    phrases: [listed]\n    overridden_by: [spamdetected]\n    source: s\n    example: e\n"
		tb, err := loadRules([]byte(y))
		if err != nil {
			t.Fatal(err)
		}
		return tb
	}
	orig := rules
	defer func() { rules = orig }()
	ev := evidence{Status: "5.2.2", ReplyCode: "552", Action: ActionFailed, Diagnostic: "552 5.2.2 rejected as spam"}
	rules = table(false)
	if got := decide(ev).Reason; got != ReasonMailboxFull {
		t.Errorf("status decides: %s, want mailboxfull", got)
	}
	rules = table(true)
	if got := decide(ev).Reason; got != ReasonSpamDetected {
		t.Errorf("row beats status: %s, want spamdetected", got)
	}
	ev = evidence{Status: "5.7.1", ReplyCode: "550", Action: ActionFailed, Diagnostic: "550 5.7.1 listed"}
	if got := decide(ev).Reason; got != ReasonBlocked {
		t.Errorf("blocked alone: %s", got)
	}
	ev.Diagnostic = "550 5.7.1 listed as spam"
	if got := decide(ev).Reason; got != ReasonSpamDetected {
		t.Errorf("blocked overridden by spamdetected: %s", got)
	}
}
