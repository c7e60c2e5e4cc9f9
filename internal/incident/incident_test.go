package incident

import (
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/bounce"
)

func TestKeyOf(t *testing.T) {
	tests := []struct {
		name string
		rep  *bounce.Report
		rc   bounce.Recipient
		want string
	}{
		{
			name: "ip wins over mta",
			rep:  &bounce.Report{SendingIP: "192.0.2.10", ReportingMTA: "relay.example.jp"},
			rc:   bounce.Recipient{Provider: "microsoft", Reason: bounce.ReasonBlocked, Address: "a@outlook.jp"},
			want: "ip:192.0.2.10|microsoft|blocked",
		},
		{
			name: "mta when ip unknown, normalised",
			rep:  &bounce.Report{ReportingMTA: " Relay.Example.JP. "},
			rc:   bounce.Recipient{Provider: "google", Reason: bounce.ReasonExpired},
			want: "mta:relay.example.jp|google|expired",
		},
		{
			name: "nothing known",
			rep:  &bounce.Report{},
			rc:   bounce.Recipient{Reason: "somethingnew"},
			want: "unknown|other|somethingnew",
		},
		{
			name: "recipient side: one item per recipient, whatever the IP",
			rep:  &bounce.Report{SendingIP: "192.0.2.10"},
			rc:   bounce.Recipient{Provider: "docomo", Reason: bounce.ReasonMailboxFull, Address: "Hanako.Example@docomo.ne.jp"},
			want: "rcpt:hanako.example@docomo.ne.jp|mailboxfull",
		},
		{
			name: "recipient side without an address stays with its origin",
			rep:  nil,
			rc:   bounce.Recipient{Provider: "docomo", Reason: bounce.ReasonMailboxFull},
			want: "unknown|docomo|mailboxfull",
		},
		{
			name: "authentication: keyed by our sender domain",
			rep:  &bounce.Report{SendingIP: "192.0.2.10", Original: bounce.Original{From: "事務所 <info@Example.JP>"}},
			rc:   bounce.Recipient{Provider: "google", Reason: bounce.ReasonAuthFailure, Address: "x@gmail.com"},
			want: "domain:example.jp|google|authfailure",
		},
		{
			name: "PTR: keyed by IP",
			rep:  &bounce.Report{SendingIP: "192.0.2.10", Original: bounce.Original{From: "info@example.jp"}},
			rc:   bounce.Recipient{Reason: bounce.ReasonRequirePTR, Address: "x@example.net"},
			want: "ip:192.0.2.10|other|requireptr",
		},
		{
			name: "Microsoft 365 tenant by its MX",
			rep:  &bounce.Report{SendingIP: "192.0.2.10"},
			rc: bounce.Recipient{Provider: "microsoft", Reason: bounce.ReasonBlocked, Address: "a@client.example.com",
				RemoteMTA: "client-example-com.mail.protection.outlook.com"},
			want: "ip:192.0.2.10|microsoft365|blocked",
		},
		{
			name: "Microsoft 365 tenant by its domain",
			rep:  &bounce.Report{SendingIP: "192.0.2.10"},
			rc:   bounce.Recipient{Provider: "microsoft", Reason: bounce.ReasonBlocked, Address: "a@client.example.com"},
			want: "ip:192.0.2.10|microsoft365|blocked",
		},
		{
			name: "Outlook.com by its MX",
			rep:  &bounce.Report{SendingIP: "192.0.2.10"},
			rc: bounce.Recipient{Provider: "microsoft", Reason: bounce.ReasonBlocked, Address: "a@client.example.com",
				RemoteMTA: "hotmail-com.olc.protection.outlook.com."},
			want: "ip:192.0.2.10|microsoft|blocked",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := KeyOf(tt.rep, tt.rc).String(); got != tt.want {
				t.Errorf("KeyOf().String() = %q, want %q", got, tt.want)
			}
		})
	}
}

// One cause, one incident: causes with different explanations or states
// never share a key, even from one IP to one provider.
func TestKeyOfSeparatesCauses(t *testing.T) {
	rep := &bounce.Report{SendingIP: "198.51.100.7"}
	outlook := func(r bounce.Reason, status string) Key {
		return KeyOf(rep, bounce.Recipient{Provider: "microsoft", Reason: r, Status: status, Address: "a@outlook.jp",
			RemoteMTA: "apc.olc.protection.outlook.com"})
	}
	s775 := outlook(bounce.ReasonBadReputation, "4.7.650")
	pairs := []struct {
		name string
		a, b Key
	}{
		{"S775 reputation vs S3140 block", s775, outlook(bounce.ReasonBlocked, "5.7.1")},
		{"Outlook.com block vs 365 tenant block (5.7.606)", outlook(bounce.ReasonBlocked, "5.7.1"),
			KeyOf(rep, bounce.Recipient{Provider: "microsoft", Reason: bounce.ReasonBlocked, Status: "5.7.606",
				Address: "k@client.example.com", RemoteMTA: "client-example-com.mail.protection.outlook.com"})},
		{"expired vs greylisting delay", KeyOf(rep, bounce.Recipient{Reason: bounce.ReasonExpired}),
			KeyOf(rep, bounce.Recipient{Reason: bounce.ReasonGreylisted})},
		{"another provider", s775, KeyOf(rep, bounce.Recipient{Provider: "google", Reason: bounce.ReasonBadReputation})},
		{"two unknown users", KeyOf(rep, bounce.Recipient{Reason: bounce.ReasonUserUnknown, Address: "a@example.com"}),
			KeyOf(rep, bounce.Recipient{Reason: bounce.ReasonUserUnknown, Address: "b@example.com"})},
	}
	for _, p := range pairs {
		if p.a == p.b || p.a.String() == p.b.String() {
			t.Errorf("%s share a key: %v", p.name, p.a)
		}
	}
	// Four S775 bounces for different Outlook.com users are one incident.
	if other := KeyOf(rep, bounce.Recipient{Provider: "microsoft", Reason: bounce.ReasonBadReputation, Address: "z@hotmail.co.jp",
		RemoteMTA: "hotmail-com.olc.protection.outlook.com"}); other != s775 {
		t.Errorf("two S775 bounces from one IP differ: %v vs %v", s775, other)
	}
	// A recipient-side item never carries the IP.
	if k := KeyOf(rep, bounce.Recipient{Reason: bounce.ReasonUserUnknown, Address: "a@example.com"}); k.SendingIP != "" || k.Side != SideRecipient {
		t.Errorf("user unknown key = %+v, want a recipient item without IP", k)
	}
}

func TestSidesAndTasks(t *testing.T) {
	for _, r := range bounce.AllReasons {
		side, task := SideOf(r), TaskOf(r)
		if (side == SideRecipient) != (task != "") {
			t.Errorf("reason %q: side %q but task %q", r, side, task)
		}
	}
	if SideOf(bounce.ReasonBadReputation) != SideSending || SideOf("Blocked") != SideSending {
		t.Errorf("reputation and blocks are the sending side's")
	}
	if TaskOf(bounce.ReasonUserUnknown) != TaskAddress || TaskOf(bounce.ReasonMailboxFull) != TaskMailbox ||
		TaskOf(bounce.ReasonFiltered) != TaskFilter || TaskOf(bounce.ReasonMesgTooBig) != TaskMessage {
		t.Errorf("tasks of recipient-side reasons are wrong")
	}
}

func TestFamilyOfCoversAllReasons(t *testing.T) {
	// Every reason that is a failure cause should be in a named family;
	// only these are expected to fall through to other.
	other := map[bounce.Reason]bool{
		bounce.ReasonUndefined: true, bounce.ReasonDelivered: true, bounce.ReasonFeedback: true,
		bounce.ReasonVacation: true, bounce.ReasonSyntaxError: true,
	}
	for _, r := range bounce.AllReasons {
		got := FamilyOf(r)
		if other[r] != (got == FamilyOther) {
			t.Errorf("FamilyOf(%q) = %q", r, got)
		}
	}
	if FamilyOf("BLOCKED") != FamilyReputation {
		t.Errorf("FamilyOf should ignore case")
	}
}

func TestTimingDefaults(t *testing.T) {
	got := Timing{GroupWait: 5 * time.Second}.WithDefaults()
	want := Timing{GroupWait: 5 * time.Second, GroupInterval: DefaultGroupInterval, RepeatInterval: DefaultRepeatInterval, ResolveAfter: DefaultResolveAfter}
	if got != want {
		t.Errorf("WithDefaults = %+v, want %+v", got, want)
	}
}

func TestDecide(t *testing.T) {
	t0 := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	tm := Timing{GroupWait: time.Minute, GroupInterval: 10 * time.Minute, RepeatInterval: 24 * time.Hour, ResolveAfter: 6 * time.Hour}
	open := func(first, last time.Duration, count int) Incident {
		return Incident{State: StateOpen, FirstAt: at(first), LastAt: at(last), Count: count}
	}
	first := func(d time.Duration, count int) Notification {
		return Notification{Kind: KindFirst, At: at(d), Count: count}
	}

	tests := []struct {
		name string
		inc  Incident
		log  []Notification
		now  time.Duration
		want Decision
	}{
		{
			name: "within group wait: wait",
			inc:  open(0, 30*time.Second, 3),
			now:  30 * time.Second,
			want: Decision{NextCheck: at(time.Minute)},
		},
		{
			name: "group wait elapsed exactly: first",
			inc:  open(0, 30*time.Second, 3),
			now:  time.Minute,
			want: Decision{Notify: true, Kind: KindFirst, NextCheck: at(30*time.Second + 6*time.Hour)},
		},
		{
			name: "after first, no change: wait for quiet or repeat",
			inc:  open(0, 30*time.Second, 3),
			log:  []Notification{first(time.Minute, 3)},
			now:  20 * time.Minute,
			want: Decision{NextCheck: at(30*time.Second + 6*time.Hour)},
		},
		{
			name: "changed but group interval not elapsed: wait for it",
			inc:  open(0, 5*time.Minute, 5),
			log:  []Notification{first(time.Minute, 3)},
			now:  5 * time.Minute,
			want: Decision{NextCheck: at(11 * time.Minute)},
		},
		{
			name: "changed and group interval elapsed: update",
			inc:  open(0, 5*time.Minute, 5),
			log:  []Notification{first(time.Minute, 3)},
			now:  11 * time.Minute,
			want: Decision{Notify: true, Kind: KindUpdate, NextCheck: at(5*time.Minute + 6*time.Hour)},
		},
		{
			name: "update uses the latest notice of any order in the log",
			inc:  open(0, 30*time.Minute, 9),
			log: []Notification{
				{Kind: KindUpdate, At: at(21 * time.Minute), Count: 7},
				first(time.Minute, 3),
			},
			now:  30 * time.Minute,
			want: Decision{NextCheck: at(31 * time.Minute)},
		},
		{
			name: "non-notice log entries are ignored",
			inc:  open(0, 30*time.Second, 3),
			log:  []Notification{{Kind: "muted", At: at(10 * time.Second), Count: 3}},
			now:  30 * time.Second,
			want: Decision{NextCheck: at(time.Minute)},
		},
		{
			name: "repeat after repeat interval while active",
			inc:  open(0, 47*time.Hour, 40),
			log:  []Notification{first(time.Minute, 3), {Kind: KindUpdate, At: at(23*time.Hour + 50*time.Minute), Count: 40}},
			now:  47*time.Hour + 50*time.Minute,
			want: Decision{Notify: true, Kind: KindRepeat, NextCheck: at(53 * time.Hour)},
		},
		{
			name: "quiet for resolve-after: resolved and close",
			inc:  open(0, 30*time.Second, 3),
			log:  []Notification{first(time.Minute, 3)},
			now:  30*time.Second + 6*time.Hour,
			want: Decision{Notify: true, Kind: KindResolved, Close: true},
		},
		{
			name: "quiet wins over a pending update",
			inc:  open(0, 2*time.Minute, 4),
			log:  []Notification{first(time.Minute, 3)},
			now:  7 * time.Hour,
			want: Decision{Notify: true, Kind: KindResolved, Close: true},
		},
		{
			name: "never noticed and already quiet (downtime): first, check again at once",
			inc:  open(0, 0, 1),
			now:  48 * time.Hour,
			want: Decision{Notify: true, Kind: KindFirst, NextCheck: at(48 * time.Hour)},
		},
		{
			name: "muted: nothing until the mute ends",
			inc:  Incident{State: StateOpen, FirstAt: at(0), LastAt: at(3 * time.Hour), Count: 50, MutedUntil: at(4 * time.Hour)},
			log:  []Notification{first(time.Minute, 3)},
			now:  2 * time.Hour,
			want: Decision{NextCheck: at(4 * time.Hour)},
		},
		{
			name: "mute ended: pending update goes out",
			inc:  Incident{State: StateOpen, FirstAt: at(0), LastAt: at(3 * time.Hour), Count: 50, MutedUntil: at(4 * time.Hour)},
			log:  []Notification{first(time.Minute, 3)},
			now:  4 * time.Hour,
			want: Decision{Notify: true, Kind: KindUpdate, NextCheck: at(9 * time.Hour)},
		},
		{
			name: "muted before group wait: no first notice",
			inc:  Incident{State: StateOpen, FirstAt: at(0), LastAt: at(0), Count: 1, MutedUntil: at(time.Hour)},
			now:  5 * time.Minute,
			want: Decision{NextCheck: at(time.Hour)},
		},
		{
			name: "resolved by a person: nothing, never",
			inc:  Incident{State: StateResolved, FirstAt: at(0), LastAt: at(time.Hour), Count: 9, ResolvedBy: "U123"},
			log:  []Notification{first(time.Minute, 3)},
			now:  30 * time.Hour,
			want: Decision{},
		},
		{
			name: "resolved automatically: nothing",
			inc:  Incident{State: StateResolved, FirstAt: at(0), LastAt: at(0), Count: 1},
			log:  []Notification{first(time.Minute, 1), {Kind: KindResolved, At: at(7 * time.Hour), Count: 1}},
			now:  8 * time.Hour,
			want: Decision{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Decide(tt.inc, tt.log, at(tt.now), tm)
			if got != tt.want {
				t.Errorf("Decide = %+v\nwant     %+v", got, tt.want)
			}
		})
	}
}

// TestDecideSequence walks one incident through its life by following
// NextCheck, as the store's Tick does, and checks the notices in order.
func TestDecideSequence(t *testing.T) {
	t0 := time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)
	tm := Timing{ResolveAfter: 6 * time.Hour} // other fields default
	inc := Incident{State: StateOpen, FirstAt: t0, LastAt: t0, Count: 1}
	arrivals := []time.Duration{10 * time.Second, 20 * time.Second, 5 * time.Minute, 30 * time.Minute}

	var log []Notification
	var kinds []Kind
	now := t0
	ai := 0
	for step := 0; step < 100 && inc.State == StateOpen; step++ {
		d := Decide(inc, log, now, tm)
		if d.Notify {
			kinds = append(kinds, d.Kind)
			log = append(log, Notification{Kind: d.Kind, At: now, Count: inc.Count})
		}
		if d.Close {
			inc.State = StateResolved
			break
		}
		next := d.NextCheck
		if !next.After(now) && !d.Notify {
			t.Fatalf("NextCheck %v does not advance from %v", next, now)
		}
		// A member arriving before the next check comes first.
		if ai < len(arrivals) && !t0.Add(arrivals[ai]).After(next) {
			now = t0.Add(arrivals[ai])
			inc.LastAt = now
			inc.Count++
			ai++
			continue
		}
		now = next
	}
	want := []Kind{KindFirst, KindUpdate, KindUpdate, KindResolved}
	if len(kinds) != len(want) {
		t.Fatalf("notices = %v, want %v", kinds, want)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("notices = %v, want %v", kinds, want)
		}
	}
	if got, wantAt := log[len(log)-1].At, t0.Add(30*time.Minute+6*time.Hour); !got.Equal(wantAt) {
		t.Errorf("resolved at %v, want %v", got, wantAt)
	}
}
