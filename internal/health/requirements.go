package health

import (
	"fmt"
	"strings"
	"time"
)

// Requirement is one line of doctor's table: what the large mailbox
// providers require of senders, who must meet it, whether the office does,
// and the fix.
type Requirement struct {
	Name   string // the requirement as the providers state it, in Japanese
	Who    string // whom the providers require it of
	Status Status // the worst status of the checks behind it; "" when nothing was checked
	Fix    string // the first action that follows, with who does it; "" when it passes
	// NotByDNS is set for a requirement DNS cannot show (TLS); Fix then
	// says how to find out.
	NotByDNS bool
}

// StatusLabel is a status in Japanese: 合格, 注意, 不合格, 確認不可.
func StatusLabel(s Status) string {
	switch s {
	case StatusOK:
		return "合格"
	case StatusWarn:
		return "注意"
	case StatusFail:
		return "不合格"
	case StatusError:
		return "確認不可"
	}
	return "未確認"
}

// Requirements sums results up as the requirements Gmail, Yahoo and Outlook
// state for senders (KB.md 3, 4, 5.1; Google's sender guidelines, Yahoo's
// sender best practices, Outlook's high-volume sender requirements):
// authentication with SPF or DKIM for all senders to Gmail and Yahoo, SPF
// and DKIM for bulk senders (5,000 or more a day) to Gmail, Yahoo and
// Outlook; valid forward and reverse DNS for the sending IPs of all senders
// (Gmail, Yahoo); a DMARC record (p=none is enough) aligned with From for
// bulk senders; TLS for all senders (Gmail), which DNS cannot show; and, as
// every receiver checks, not being on the major blocklists.
func Requirements(rs []Result) []Requirement {
	auth := Requirement{Name: "なりすまし対策の SPF か DKIM に合格している",
		Who: "Gmail・Yahoo: すべての送信者（1日5,000通以上なら両方）／Outlook: 1日5,000通以上なら両方"}
	ptr := Requirement{Name: "送信IPに逆引き（PTR）が設定され、その名前の正引きが同じIPを指している",
		Who: "Gmail・Yahoo: すべての送信者"}
	dmarc := Requirement{Name: "DMARC を公開し（p=none でよい）、差出人のドメインが SPF か DKIM のドメインと一致している",
		Who: "Gmail・Yahoo・Outlook: 1日5,000通以上送る送信者"}
	tls := Requirement{Name: "送信時に TLS で暗号化している", Who: "Gmail: すべての送信者", NotByDNS: true,
		Fix: "DNSでは確認できません。【情報システム担当】送信サーバーがTLSに対応しているか、レンタルサーバー会社の案内で確認してください（多くは対応済みです）。"}
	lists := Requirement{Name: "主要なブロックリストに登録されていない", Who: "各社とも受信時に参照（すべての送信者）"}
	var spfRs, dkimRs []Result
	for _, r := range rs {
		switch r.Check {
		case CheckSPF:
			spfRs = append(spfRs, r)
		case CheckDKIM:
			dkimRs = append(dkimRs, r)
		case CheckPTR:
			ptr.add(r)
		case CheckDMARC:
			dmarc.add(r)
		case CheckDNSBL:
			lists.add(r)
		}
	}
	// SPF or DKIM: passing either is enough; otherwise the worse of them.
	switch {
	case allOK(spfRs) || allOK(dkimRs):
		auth.Status = StatusOK
	default:
		for _, r := range append(spfRs, dkimRs...) {
			auth.add(r)
		}
	}
	var out []Requirement
	for _, q := range []Requirement{auth, ptr, dmarc, tls, lists} {
		if q.Status == StatusOK {
			q.Fix = ""
		}
		out = append(out, q)
	}
	return out
}

func allOK(rs []Result) bool {
	for _, r := range rs {
		if r.Status != StatusOK {
			return false
		}
	}
	return len(rs) > 0
}

// add folds one result into the requirement: the worst status wins, and
// the fix is the first action of the first result at that status.
func (q *Requirement) add(r Result) {
	if rank(r.Status) > rank(q.Status) {
		q.Status = r.Status
		q.Fix = ""
	}
	if r.Status == q.Status && q.Fix == "" {
		var acts []Action
		if r.Check == CheckDNSBL && r.Finding == ListListed {
			_, acts = explainListed(r)
		} else {
			_, acts = explain(r)
		}
		switch {
		case len(acts) > 0:
			q.Fix = acts[0].Role.Label() + acts[0].Text
		case r.Finding == ListRefused:
			a := refusedAction(r)
			q.Fix = a.Role.Label() + a.Text
		case r.Finding == LookupFailed:
			q.Fix = RoleIT.Label() + "DNSが応答しませんでした。BOUNCEWATCH_DNS_SERVER を確認して再実行してください。"
		}
	}
}

func rank(s Status) int {
	switch s {
	case StatusOK:
		return 1
	case StatusWarn:
		return 2
	case StatusError:
		return 3
	case StatusFail:
		return 4
	}
	return 0
}

// Japanese renders one result as a Japanese line for doctor's list of
// what was checked.
func (r Result) Japanese() string {
	var line string
	switch {
	case r.Check == CheckDNSBL && r.Finding == ListListed:
		line, _ = explainListed(r)
	case r.Check == CheckDNSBL && r.Finding == ListClear:
		if (List{Zone: r.List}).Kind() == "dbl" {
			line = fmt.Sprintf("ドメイン %s は %s に登録されていません。", r.Subject, listName(r))
		} else {
			line = fmt.Sprintf("%s は %s に登録されていません。", r.Subject, listName(r))
		}
	case r.Check == CheckDNSBL && r.Finding == ListRefused:
		line = fmt.Sprintf("%s は確認できませんでした（%s が問い合わせを断りました: %s）。登録の有無は不明です。", listName(r), r.List, refusedJapanese(r))
	case r.Finding == LookupFailed:
		line = fmt.Sprintf("%s（%s）は確認できませんでした（DNSの応答が期限内にありませんでした）。", checkName(r), r.Subject)
	case r.Check == CheckMX && r.Finding == MXMissing:
		line = fmt.Sprintf("%s にはMXレコードがありません（このドメインではメールを受け取れません）。", r.Subject)
	case r.Check == CheckMX && r.Finding == MXProvider:
		line = fmt.Sprintf("%s のメールの受信先（MX）: %s", r.Subject, first(r.Values))
	default:
		line, _ = explain(r)
	}
	return line
}

// DoctorText renders doctor's report: the requirements table, then every
// check with its finding and the actions that follow. hosting is the name of
// the office's hosting company (BOUNCEWATCH_HOSTING_NAME; "" for the generic
// word): as in the notices (Summary.ForHosting), its actions and the texts
// that send the office to it name it.
func DoctorText(domain string, ips []string, rs []Result, loc *time.Location, hosting string) string {
	hosting = strings.TrimSpace(hosting)
	named := func(s string) string {
		if hosting == "" {
			return s
		}
		return strings.ReplaceAll(s, string(RoleHosting), hosting)
	}
	var b strings.Builder
	var at time.Time
	for _, r := range rs {
		if r.At.After(at) {
			at = r.At
		}
	}
	subject := domain
	if len(ips) > 0 {
		subject += " / " + strings.Join(ips, ", ")
	}
	fmt.Fprintf(&b, "bouncewatch doctor: %s", subject)
	if !at.IsZero() {
		fmt.Fprintf(&b, "（%s 時点）", at.In(loc).Format("2006/01/02 15:04"))
	}
	// One row per requirement, in lines rather than columns: the fixes are
	// sentences, and a terminal wraps wide columns into noise.
	b.WriteString("\n\nGmail・Yahoo・Outlook が送信者に求めていること:\n")
	for i, q := range Requirements(rs) {
		fix := q.Fix
		if fix == "" && q.Status == StatusOK {
			fix = "不要"
		}
		if q.Status == "" && !q.NotByDNS {
			fix = "送信IPが分からないため確認していません（--ip で送信IPを指定）。"
		}
		fmt.Fprintf(&b, "\n%d. %s ── %s\n   対象: %s\n   対応: %s\n", i+1, q.Name, StatusLabel(q.Status), q.Who, named(fix))
	}
	b.WriteString("\n確認した内容:\n")
	for _, r := range rs {
		// Each line names what it is about (SPF, the list…).
		fmt.Fprintf(&b, "  [%s] %s\n", StatusLabel(r.Status), r.Japanese())
	}
	if len(ips) == 0 {
		b.WriteString("  送信IPが分からないため、SPF・逆引き・IPのブロックリストは確認していません（--ip で指定）。\n")
	}
	hasDKIM := false
	for _, r := range rs {
		hasDKIM = hasDKIM || r.Check == CheckDKIM
	}
	if !hasDKIM {
		b.WriteString("  DKIM は署名の名前（セレクタ）が分からないため確認していません。送ったメールの DKIM-Signature ヘッダーにある s= の値を --selector で指定してください。\n")
	}
	if s := Summarize(rs).ForHosting(hosting); len(s.Actions) > 0 {
		b.WriteString("\n対応:\n")
		for i, a := range s.Actions {
			fmt.Fprintf(&b, "  %d. %s%s\n", i+1, s.Label(a.Role), a.Text)
		}
	}
	return b.String()
}
