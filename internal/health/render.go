package health

import (
	"fmt"
	"strings"
	"time"
)

// Role is who carries out an action that follows from a finding.
type Role string

// Roles. The office's IT person deals with DNS and with the hosting company;
// the hosting company is named only where it acts itself (PTR, its own
// sending IPs and their listings).
const (
	RoleIT      Role = "情報システム担当"
	RoleHosting Role = "レンタルサーバー会社"
)

// Action is one step that follows from a finding.
type Action struct {
	Role Role   `json:"role"`
	Text string `json:"text"`
	// Code are DNS names and record values in Text to be copied as they
	// are: a medium that formats text (Slack) shows them as code, so that
	// "~all" or "_dmarc" reach the DNS unchanged. Each appears verbatim in
	// Text.
	Code []string `json:"code,omitempty"`
}

// Summary is the Japanese rendering of the findings for a notice: what was
// found, when, and what follows.
type Summary struct {
	At      time.Time `json:"at"`
	IP      string    `json:"ip,omitempty"`
	Domain  string    `json:"domain,omitempty"`
	Lines   []string  `json:"lines"`
	Actions []Action  `json:"actions,omitempty"`
	// Clear is true when SPF, DMARC and PTR pass and no list names the IP:
	// the office need not check them.
	Clear bool `json:"clear"`
	// Incomplete is true when some check could not be done (the resolver
	// did not answer in time, or a list refused the query).
	Incomplete bool `json:"incomplete"`
	// Hosting is the name of the office's own hosting company
	// (BOUNCEWATCH_HOSTING_NAME, set by ForHosting); "" means the generic
	// word RoleHosting.
	Hosting string `json:"hosting,omitempty"`
}

// ForHosting names the office's own hosting company, as the advice does
// (advice.WithHosting): the hosting company's actions are labelled with the
// name (【ヘテムル】 instead of 【レンタルサーバー会社】) and the findings and
// actions that tell the office to contact it say the name. The texts of
// this package name the hosting company only by the generic word
// (RoleHosting), so that word is what is replaced. An empty name (after
// trimming) leaves the summary as it is.
func (s Summary) ForHosting(name string) Summary {
	name = strings.TrimSpace(name)
	if name == "" {
		return s
	}
	generic := string(RoleHosting)
	s.Hosting = name
	lines := make([]string, len(s.Lines))
	for i, l := range s.Lines {
		lines[i] = strings.ReplaceAll(l, generic, name)
	}
	s.Lines = lines
	acts := make([]Action, len(s.Actions))
	for i, a := range s.Actions {
		a.Text = strings.ReplaceAll(a.Text, generic, name)
		acts[i] = a
	}
	s.Actions = acts
	return s
}

// Label is the role of an action as this summary shows it: 【情報システム担当】,
// and the hosting company by its name when ForHosting gave one.
func (s Summary) Label(r Role) string {
	if r == RoleHosting && s.Hosting != "" {
		return "【" + s.Hosting + "】"
	}
	return r.Label()
}

// Summarize renders results (from Checker.Run) for a notice.
func Summarize(rs []Result) Summary {
	var s Summary
	var clear, listed, refused, failed []Result
	passed := map[Check]bool{}
	// Listings first: they are what a block is most often about.
	for _, r := range rs {
		if r.Check == CheckDNSBL && r.Finding == ListListed {
			line, acts := explainListed(r)
			s.Lines = append(s.Lines, line)
			s.Actions = append(s.Actions, acts...)
		}
	}
	for _, r := range rs {
		if r.At.After(s.At) {
			s.At = r.At
		}
		if r.Status == StatusError {
			s.Incomplete = true
		}
		switch r.Check {
		case CheckSPF:
			s.Domain = r.Subject
			if len(r.Values) > 0 {
				s.IP = r.Values[0]
			}
		case CheckPTR:
			s.IP = r.Subject
		case CheckDMARC:
			if s.Domain == "" {
				s.Domain = r.Subject
			}
		}
		switch {
		case r.Check == CheckDNSBL && r.Finding == ListClear:
			clear = append(clear, r)
		case r.Check == CheckDNSBL && r.Finding == ListListed:
			listed = append(listed, r)
		case r.Check == CheckDNSBL && r.Finding == ListRefused:
			refused = append(refused, r)
		case r.Finding == LookupFailed:
			failed = append(failed, r)
		default:
			if r.Status == StatusOK {
				passed[r.Check] = true
			}
			line, acts := explain(r)
			if line != "" {
				s.Lines = append(s.Lines, line)
			}
			s.Actions = append(s.Actions, acts...)
		}
	}
	if len(clear) > 0 {
		var ip, dom []string
		subject := ""
		for _, r := range clear {
			if (List{Zone: r.List}).Kind() == "dbl" {
				dom = append(dom, listName(r))
			} else {
				ip = append(ip, listName(r))
				subject = r.Subject
			}
		}
		if len(ip) > 0 {
			s.Lines = append(s.Lines, fmt.Sprintf("%s は、確認したブロックリスト（%s）のいずれにも登録されていません。", subject, strings.Join(ip, "、")))
		}
		if len(dom) > 0 {
			s.Lines = append(s.Lines, fmt.Sprintf("ドメイン %s は %s に登録されていません。", s.Domain, strings.Join(dom, "、")))
		}
	}
	for _, r := range refused {
		s.Lines = append(s.Lines, fmt.Sprintf("%s は確認できませんでした（%s が問い合わせを断りました: %s）。登録の有無は不明です。", listName(r), r.List, refusedJapanese(r)))
	}
	for _, r := range refused {
		s.Actions = append(s.Actions, refusedAction(r))
	}
	s.Actions = dedupActions(s.Actions)
	if len(failed) > 0 {
		var names []string
		for _, r := range failed {
			names = append(names, checkName(r))
		}
		s.Lines = append(s.Lines, fmt.Sprintf("%s は確認できませんでした（DNSの応答が期限内にありませんでした）。", strings.Join(dedup(names), "・")))
	}
	s.Clear = passed[CheckSPF] && passed[CheckDMARC] && passed[CheckPTR] && len(listed) == 0 && len(refused) == 0 &&
		!hasIPFailure(failed)
	if s.Clear {
		s.Lines = append(s.Lines, "SPF・DMARC・逆引き(PTR)はいずれも正常で、送信IPはブロックリストに登録されていません。自社側でこれらを確認し直す必要はありません。")
	}
	return s
}

func hasIPFailure(failed []Result) bool {
	for _, r := range failed {
		if r.Check == CheckDNSBL || r.Check == CheckSPF || r.Check == CheckPTR || r.Check == CheckDMARC {
			return true
		}
	}
	return false
}

func listName(r Result) string { return List{Zone: r.List}.Name() }

func checkName(r Result) string {
	switch r.Check {
	case CheckSPF:
		return "SPF"
	case CheckDMARC:
		return "DMARC"
	case CheckDKIM:
		return "DKIM"
	case CheckPTR:
		return "逆引き(PTR)"
	case CheckMX:
		return "MX（メールの受信先）"
	case CheckDNSBL:
		return listName(r)
	}
	return string(r.Check)
}

// explain renders one non-blocklist finding and the actions that follow.
func explain(r Result) (string, []Action) {
	ip := ""
	if len(r.Values) > 0 {
		ip = r.Values[0]
	}
	switch r.Finding {
	case SPFPass:
		return fmt.Sprintf("SPF: 送信IP %s は %s のSPFで許可されています%s。", ip, r.Subject, spfSourceNote(r)), nil
	case SPFFail, SPFSoftFail, SPFNeutral:
		return fmt.Sprintf("%s のSPFに送信IP %s が含まれていません%s。", r.Subject, ip, spfSourceNote(r)), []Action{{Role: RoleIT, Text: fmt.Sprintf("%s のSPFレコード（DNSのTXTレコード）に送信IP %s を加えてください。レンタルサーバー会社の送信サーバーから送っている場合は、その会社が案内する include: の記述を加えます（例: v=spf1 ip4:%s include:… ~all）。", r.Subject, ip, ip),
			Code: []string{"v=spf1 ip4:" + ip + " include:… ~all"}}}
	case SPFNone:
		return fmt.Sprintf("%s にはSPFレコードがありません%s。", r.Subject, spfSourceNote(r)), []Action{{Role: RoleIT, Text: fmt.Sprintf("%s のDNSにSPFレコード（TXT）を追加してください（例: v=spf1 ip4:%s ~all。レンタルサーバー会社の案内する include: があればそれも）。", r.Subject, ip),
			Code: []string{"v=spf1 ip4:" + ip + " ~all"}}}
	case SPFPermError:
		return fmt.Sprintf("%s のSPFレコードに誤りがあり、受信側で評価できません（%s）。", r.Subject, r.Detail), []Action{{Role: RoleIT, Text: fmt.Sprintf("%s のSPFレコードを1つにまとめ、書式とDNS参照の回数（10回まで）を見直してください。", r.Subject)}}
	case DMARCMissing:
		return fmt.Sprintf("%s にはDMARCレコードがありません。", r.Subject), []Action{{Role: RoleIT, Text: fmt.Sprintf("_dmarc.%s にDMARCレコード（TXT）を追加してください。まずは v=DMARC1; p=none; rua=mailto:（集計レポートの宛先） で始められます。Gmail・Yahoo・Outlookへ1日5,000通以上送る場合は必須です。", r.Subject),
			Code: []string{"_dmarc." + r.Subject, "v=DMARC1; p=none; rua=mailto:"}}}
	case DMARCPolicy:
		return fmt.Sprintf("DMARC: %s にレコードがあります（ポリシー p=%s）。", r.Subject, first(r.Values)), nil
	case DMARCUnaligned:
		return fmt.Sprintf("%s のDMARC（p=%s）に対して、SPFのドメインもDKIM署名のドメインも差出人のドメインと一致していません。", r.Subject, first(r.Values)), []Action{{Role: RoleIT, Text: fmt.Sprintf("差出人 %s のドメインで署名するDKIMを有効にするか、エンベロープの送信元（Return-Path）を %s にそろえてください。DKIMの有効化はレンタルサーバー会社の管理画面で行えることが多いです。", r.Subject, r.Subject)}}
	case DMARCInvalid:
		return fmt.Sprintf("%s のDMARCレコードに誤りがあります（%s）。", r.Subject, r.Detail), []Action{{Role: RoleIT, Text: fmt.Sprintf("_dmarc.%s のTXTレコードを v=DMARC1; p=none; … の書式で書き直してください。", r.Subject),
			Code: []string{"_dmarc." + r.Subject, "v=DMARC1; p=none; …"}}}
	case DKIMKey:
		return fmt.Sprintf("DKIM: %s に公開鍵があります。", r.Subject), nil
	case DKIMNoKey, DKIMRevoked, DKIMBadKey:
		return fmt.Sprintf("DKIM署名の公開鍵が %s で見つからないか使えません。", r.Subject), []Action{{Role: RoleIT, Text: fmt.Sprintf("DKIMの公開鍵（TXTレコード %s）を、レンタルサーバー会社の管理画面に表示される値で設定し直してください。", r.Subject),
			Code: []string{r.Subject}}}
	case PTRConfirmed:
		return fmt.Sprintf("逆引き(PTR): %s は %s で、正引きも一致しています。", r.Subject, first(r.Values)), nil
	case PTRMissing:
		return fmt.Sprintf("送信IP %s に逆引き(PTR)が設定されていません。", r.Subject), []Action{
			{Role: RoleIT, Text: fmt.Sprintf("送信IP %s を管理するレンタルサーバー会社（またはプロバイダ）に、逆引き(PTR)の設定を依頼してください。", r.Subject)},
			{Role: RoleHosting, Text: fmt.Sprintf("%s の逆引き(PTR)にホスト名を設定し、そのホスト名の正引き(A)が同じIPを返すようにする。", r.Subject)}}
	case PTRMismatch:
		return fmt.Sprintf("送信IP %s の逆引き(PTR) %s が、正引きで同じIPに戻りません。", r.Subject, strings.Join(r.Values, ", ")), []Action{
			{Role: RoleIT, Text: fmt.Sprintf("送信IP %s を管理するレンタルサーバー会社に、逆引きと正引きの一致を依頼してください。", r.Subject)},
			{Role: RoleHosting, Text: fmt.Sprintf("%s の正引き(A)を %s に向けるか、逆引きを正引きできるホスト名に変える。", first(r.Values), r.Subject)}}
	case MXProvider:
		if v := first(r.Values); v == ProviderMicrosoft365 || v == ProviderGoogle {
			return fmt.Sprintf("宛先ドメイン %s のメールは %s で受信されています。", r.Subject, v), nil
		}
		return "", nil
	case MXMissing:
		// Not shown in a notice: the bounce itself tells where the mail went.
		return "", nil
	}
	return "", nil
}

// spfSourceNote says which domain's SPF was checked and why, when the
// domain was not given by a person: receivers check the envelope sender
// (Return-Path), which a bounce does not always show.
func spfSourceNote(r Result) string {
	switch r.SPFSource {
	case SPFSourceEnvelope:
		return "（エラーメールに記された元のメールの送信元(Return-Path)のドメインで確認）"
	case SPFSourceFrom:
		return "（エラーメールに元のメールの送信元 Return-Path が無いため、差出人 From のドメインで確認）"
	case SPFSourceMailbox:
		return "（エラーメールに元のメールの送信元が無いため、監視しているメールボックスのドメインで確認）"
	}
	return ""
}

// explainListed renders a blocklist listing with the way off it (KB.md 8.1).
func explainListed(r Result) (string, []Action) {
	name := listName(r)
	codes := strings.Join(r.Values, "・")
	line := fmt.Sprintf("%s は %s（%s）に登録されています。", r.Subject, name, codes)
	kind := List{Zone: r.List}.Kind()
	switch kind {
	case "zen":
		var acts []Action
		for _, c := range r.Values {
			switch c {
			case "SBL", "DROP":
				acts = append(acts,
					Action{Role: RoleIT, Text: fmt.Sprintf("送信IP %s が Spamhaus %s に登録されていることをレンタルサーバー会社に伝え、対応を依頼してください。", r.Subject, c)},
					Action{Role: RoleHosting, Text: fmt.Sprintf("Spamhaus の登録記録（https://check.spamhaus.org で %s を検索）に従って原因を解消し、解除を申請する。", r.Subject)})
			case "XBL":
				acts = append(acts, Action{Role: RoleIT, Text: fmt.Sprintf("ウイルス感染・パスワード漏れによる不正送信など原因を確認して解消した後、https://check.spamhaus.org で %s の解除を申請してください（共用サーバーのIPならレンタルサーバー会社に連絡）。", r.Subject)})
			case "CSS":
				// CSS lists IPs that send low-reputation mail (spam-like bulk
				// sending, hijacked accounts): fixed by the sender, then
				// self-service removal (KB.md 8.1).
				acts = append(acts, Action{Role: RoleIT, Text: fmt.Sprintf("迷惑メールと判断される送信（乗っ取られたアカウントからの送信や、同意のない一斉送信など）がないか確認して止めた後、https://check.spamhaus.org で %s の解除を申請してください（共用サーバーのIPならレンタルサーバー会社に連絡）。", r.Subject)})
			case "PBL":
				acts = append(acts, Action{Role: RoleIT, Text: fmt.Sprintf("%s は「直接メールを送るべきでないIP」の範囲です。プロバイダまたはレンタルサーバーのSMTPサーバー経由で送るか、固定IPのメールサーバーであれば https://check.spamhaus.org から除外を申請してください。", r.Subject)})
			}
		}
		return line, dedupActions(acts)
	case "dbl":
		line = fmt.Sprintf("ドメイン %s は %s（%s）に登録されています。", r.Subject, name, codes)
		return line, []Action{{Role: RoleIT, Text: fmt.Sprintf("ドメイン %s の登録は送信IPを変えても解消しません。ホームページの改ざんや乗っ取りがないか確認し、https://check.spamhaus.org から解除を申請してください。", r.Subject)}}
	case "spamcop":
		return line, []Action{{Role: RoleIT, Text: "SpamCop の登録は、迷惑メールの報告が止まれば通常24〜48時間で自動的に外れます。https://www.spamcop.net/bl.shtml で状況を確認し、乗っ取られたアカウントや自動返信の誤送信がないか確認してください。"}}
	case "barracuda":
		return line, []Action{{Role: RoleIT, Text: fmt.Sprintf("原因を解消した後、https://www.barracudacentral.org/rbl/removal-request から %s の解除を一度だけ申請してください（無料）。", r.Subject)}}
	case "uceprotect":
		return line, []Action{{Role: RoleIT, Text: fmt.Sprintf("UCEPROTECT レベル1は、不正送信が止まれば約7日で自動的に外れます。有料の即時解除は不要です。共用サーバーのIP %s ならレンタルサーバー会社に連絡してください。", r.Subject)}}
	}
	return line, []Action{{Role: RoleIT, Text: fmt.Sprintf("%s の案内に従って、原因を解消してから %s の解除を申請してください（共用サーバーのIPならレンタルサーバー会社に連絡）。", r.List, r.Subject)}}
}

func dedupActions(as []Action) []Action {
	var out []Action
	type key struct {
		role Role
		text string
	}
	seen := map[key]bool{}
	for _, a := range as {
		if k := (key{a.Role, a.Text}); !seen[k] {
			seen[k] = true
			out = append(out, a)
		}
	}
	return out
}

func first(ss []string) string {
	if len(ss) == 0 {
		return ""
	}
	return ss[0]
}

// Label is the role as shown before an action: 【情報システム担当】.
func (r Role) Label() string { return "【" + string(r) + "】" }

// Heading is the title of the section in a notice.
const Heading = "確認結果"

// When renders the time of the checks, e.g. 2026/12/03 13:45 時点（bouncewatch がDNSで確認）.
func (s Summary) When(loc *time.Location) string {
	if s.At.IsZero() {
		return ""
	}
	return s.At.In(loc).Format("2006/01/02 15:04") + " 時点（bouncewatch がDNSで確認）"
}

// TextLines renders the summary as plain lines: the time, each finding
// with "・", then each action with its role.
func (s Summary) TextLines(loc *time.Location) []string {
	var out []string
	if w := s.When(loc); w != "" {
		out = append(out, w)
	}
	for _, l := range s.Lines {
		out = append(out, "・"+l)
	}
	for _, a := range s.Actions {
		out = append(out, "→ "+s.Label(a.Role)+a.Text)
	}
	return out
}
