package email

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode"

	gomail "github.com/emersion/go-message/mail"

	"github.com/bouncewatch/bouncewatch/internal/advice"
	"github.com/bouncewatch/bouncewatch/internal/notify"
)

// Addressing is the envelope-like part of a mail we compose.
type Addressing struct {
	From       string    // e.g. "bouncewatch <bw@example.jp>"
	To         []string  // recipients, already filtered with Suppress
	ReplyTo    string    // the watched mailbox, so replies come back to bouncewatch
	MessageID  string    // without angle brackets; carries a token (see MessageID, MakeToken)
	InReplyTo  string    // without angle brackets; for replies
	References []string  // without angle brackets, oldest first; for replies
	Subject    string    // "" means Subject(n)
	Date       time.Time // when the mail is written
}

// Attachment is a file attached to a detail mail, typically an original
// bounce (.eml).
type Attachment struct {
	Filename string // "" means bounce-N.eml
	Data     []byte
}

// How much of the lists and the receiver's words go into each kind of mail.
const (
	summaryRecipients = 10
	detailRecipients  = 200
	summaryDiagnostic = 500
	detailDiagnostic  = 8000
)

// Subject returns the subject of a notification mail, e.g.
// "【配信エラー】Microsoft(Outlook)宛てのメールが届いていません(5件)".
func Subject(n notify.Notice) string {
	count := ""
	if n.Count > 0 {
		count = "(" + strconv.Itoa(n.Count) + "件)"
	}
	p := oneLine(n.ProviderLabel())
	if n.Task != "" && len(n.Advice.Recipients) == 1 && n.Advice.More == 0 {
		// One recipient's problem: the sender knows whom they wrote to.
		p = oneLine(n.Advice.Recipients[0]) + " "
	}
	switch {
	case n.Kind == notify.KindDetail:
		return "【詳細】" + p + "宛ての配信エラー" + count
	case n.Kind == notify.KindResolved:
		return "【解決済み】" + p + "宛ての配信エラー" + count
	case n.Advice.Retrying:
		return "【配送遅延】" + p + "宛てのメールが遅れています" + count
	default:
		return "【配信エラー】" + p + "宛てのメールが届いていません" + count
	}
}

// Compose writes a notification mail: a Japanese summary as text/plain and
// a simple HTML alternative, both UTF-8 and quoted-printable, the subject
// RFC 2047-encoded.
//
// It marks the mail with Auto-Submitted: auto-generated (RFC 3834, the
// standard way to say "a machine wrote this; do not auto-reply") and
// X-Auto-Response-Suppress: All (Exchange and Outlook honour only this). It
// sets no Precedence: bulk: the field is non-standard, RFC 3834 advises
// against relying on it, and Gmail and others treat it as a sign of bulk
// mail, hurting delivery of a mail that matters to its reader.
func Compose(n notify.Notice, a Addressing) ([]byte, error) {
	return compose(n, a, nil)
}

// ComposeDetail writes the long version of a notification, typically as a
// reply to a person who answered one (set InReplyTo and References), with
// the original bounces attached. An attachment that is plain 7-bit text with
// lines under 998 octets goes as message/rfc822 (mail programs open it as a
// mail); any other as application/octet-stream in base64, named .eml.
func ComposeDetail(n notify.Notice, a Addressing, attachments []Attachment) ([]byte, error) {
	n.Kind = notify.KindDetail
	return compose(n, a, attachments)
}

func compose(n notify.Notice, a Addressing, attachments []Attachment) ([]byte, error) {
	if a.Subject == "" {
		a.Subject = Subject(n)
	}
	h, err := mailHeader(a, strconv.FormatInt(n.IncidentID, 10))
	if err != nil {
		return nil, err
	}
	text := Text(n)
	html, err := HTML(n)
	if err != nil {
		return nil, err
	}
	return write(h, text, html, attachments)
}

// mailHeader is the header of a mail we compose; incident goes in
// X-Bouncewatch-Incident.
func mailHeader(a Addressing, incident string) (gomail.Header, error) {
	var h gomail.Header
	from, err := mail.ParseAddress(a.From)
	if err != nil {
		return h, fmt.Errorf("email: From %q: %w", a.From, err)
	}
	h.SetAddressList("From", []*gomail.Address{from})
	if len(a.To) == 0 {
		return h, errors.New("email: no recipients")
	}
	var to []*gomail.Address
	for _, s := range a.To {
		addr, err := mail.ParseAddress(s)
		if err != nil {
			return h, fmt.Errorf("email: To %q: %w", s, err)
		}
		to = append(to, addr)
	}
	h.SetAddressList("To", to)
	if a.ReplyTo != "" {
		rt, err := mail.ParseAddress(a.ReplyTo)
		if err != nil {
			return h, fmt.Errorf("email: Reply-To %q: %w", a.ReplyTo, err)
		}
		h.SetAddressList("Reply-To", []*gomail.Address{rt})
	}
	if a.MessageID == "" || strings.ContainsAny(a.MessageID, "<> \r\n") {
		return h, fmt.Errorf("email: bad Message-ID %q", a.MessageID)
	}
	h.SetMessageID(a.MessageID)
	if a.InReplyTo != "" {
		h.SetMsgIDList("In-Reply-To", []string{a.InReplyTo})
	}
	if len(a.References) > 0 {
		h.SetMsgIDList("References", a.References)
	}
	h.SetSubject(oneLine(a.Subject))
	if a.Date.IsZero() {
		return h, errors.New("email: no Date")
	}
	h.SetDate(a.Date)
	h.Set("Auto-Submitted", "auto-generated")
	h.Set("X-Auto-Response-Suppress", "All")
	h.Set("X-Bouncewatch-Incident", incident)
	return h, nil
}

// write writes a mail of header h: the text and HTML alternatives, then
// the attachments.
func write(h gomail.Header, text, html string, attachments []Attachment) ([]byte, error) {
	var buf bytes.Buffer
	if len(attachments) == 0 {
		w, err := gomail.CreateInlineWriter(&buf, h)
		if err != nil {
			return nil, err
		}
		if err := writeAlternatives(w, text, html); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
	w, err := gomail.CreateWriter(&buf, h)
	if err != nil {
		return nil, err
	}
	iw, err := w.CreateInline()
	if err != nil {
		return nil, err
	}
	if err := writeAlternatives(iw, text, html); err != nil {
		return nil, err
	}
	if err := iw.Close(); err != nil {
		return nil, err
	}
	for i, at := range attachments {
		if err := writeAttachment(w, i, at); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeAlternatives(w *gomail.InlineWriter, text, html string) error {
	for _, p := range []struct{ typ, body string }{{"text/plain", text}, {"text/html", html}} {
		var ph gomail.InlineHeader
		ph.SetContentType(p.typ, map[string]string{"charset": "utf-8"})
		ph.Set("Content-Transfer-Encoding", "quoted-printable")
		pw, err := w.CreatePart(ph)
		if err != nil {
			return err
		}
		if _, err := pw.Write([]byte(strings.ReplaceAll(p.body, "\n", "\r\n"))); err != nil {
			return err
		}
		if err := pw.Close(); err != nil {
			return err
		}
	}
	return nil
}

func writeAttachment(w *gomail.Writer, i int, at Attachment) error {
	name := at.Filename
	if name == "" {
		name = fmt.Sprintf("bounce-%d.eml", i+1)
	}
	var ah gomail.AttachmentHeader
	data := at.Data
	if strings.HasSuffix(strings.ToLower(name), ".txt") {
		// A list we wrote (a digest's every recipient), not a bounce.
		ah.SetContentType("text/plain", map[string]string{"charset": "utf-8", "name": name})
		ah.Set("Content-Transfer-Encoding", "base64")
	} else if crlf, ok := sevenBit(data); ok {
		ah.SetContentType("message/rfc822", nil)
		ah.Set("Content-Transfer-Encoding", "7bit")
		data = crlf
	} else {
		if !strings.HasSuffix(strings.ToLower(name), ".eml") {
			name += ".eml"
		}
		ah.SetContentType("application/octet-stream", map[string]string{"name": name})
		ah.Set("Content-Transfer-Encoding", "base64")
	}
	ah.SetFilename(name)
	aw, err := w.CreateAttachment(ah)
	if err != nil {
		return err
	}
	if _, err := aw.Write(data); err != nil {
		return err
	}
	return aw.Close()
}

// sevenBit returns data with CRLF line ends when it is 7-bit text (no NUL,
// no bare CR) with no line over 998 octets.
func sevenBit(data []byte) ([]byte, bool) {
	out := make([]byte, 0, len(data)+len(data)/40)
	line := 0
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case c == 0 || c >= 0x80:
			return nil, false
		case c == '\r':
			if i+1 >= len(data) || data[i+1] != '\n' {
				return nil, false
			}
			continue
		case c == '\n':
			out = append(out, '\r', '\n')
			line = 0
			continue
		}
		line++
		if line > 998 {
			return nil, false
		}
		out = append(out, c)
	}
	return out, true
}

// view is a notice prepared for the mail templates: every string is a
// single clean line or paragraph, with untrusted control characters gone.
type view struct {
	Title, Headline, Explanation, Outlook string
	Summary                               []string // the short shape, shown first
	Facts                                 [][2]string
	Recipients                            []string
	RecipientsTitle                       string // 届かなかった宛先, or 対象の宛先 while the mail may still arrive
	More                                  int
	Actions                               []string
	Diagnostic                            string
	Checks                                []string // 確認結果: when, findings, actions
	Detail                                string
	Links                                 [][2]string
	Footer                                []string
}

func newView(n notify.Notice) view {
	detail := n.Kind == notify.KindDetail
	v := view{
		Title:       Subject(n),
		Explanation: clean(n.Advice.Explanation),
		Outlook:     clean(n.Advice.Outlook),
	}
	if h := clean(n.Advice.Headline); h != n.ReasonLabel() {
		v.Headline = h
	}
	if !detail {
		for _, l := range n.Summary() {
			v.Summary = append(v.Summary, oneLine(l))
		}
	}
	seen := map[string]bool{}
	fact := func(label, value string) {
		// Each label once; the receiver's words have a section of their own.
		if value != "" && !seen[label] && !strings.Contains(label, "原文") {
			seen[label] = true
			v.Facts = append(v.Facts, [2]string{oneLine(label), oneLine(value)})
		}
	}
	fact("送信元IP", n.SendingIP)
	fact("宛先プロバイダ", n.ProviderLabel())
	fact("理由", n.ReasonLabel())
	if n.Count > 0 {
		fact("件数", strconv.Itoa(n.Count)+"件")
	}
	fact("期間", notify.Period(n.First, n.Last))
	for _, f := range n.Advice.Facts {
		fact(f.Label, cut(f.Value, 300))
	}
	limit := summaryRecipients
	if detail {
		limit = detailRecipients
	}
	rs, more := n.Advice.Recipients, n.Advice.More
	if len(rs) > limit {
		more += len(rs) - limit
		rs = rs[:limit]
	}
	for _, r := range rs {
		v.Recipients = append(v.Recipients, oneLine(r))
	}
	v.More = more
	v.RecipientsTitle = "届かなかった宛先"
	switch n.Advice.Delivery {
	case advice.DeliveryRetrying, advice.DeliveryDelivered, advice.DeliveryUnknown:
		v.RecipientsTitle = "対象の宛先"
	}
	if n.Advice.Retrying {
		v.RecipientsTitle = "対象の宛先"
	}
	for i, a := range n.Advice.Actions {
		who := a.Label
		if who == "" {
			who = string(a.Actor)
		}
		line := strconv.Itoa(i+1) + ". "
		if who != "" {
			line += "［" + oneLine(who) + "］"
		}
		v.Actions = append(v.Actions, line+clean(a.Text))
	}
	dl := summaryDiagnostic
	if detail {
		dl = detailDiagnostic
	}
	v.Diagnostic = cut(clean(n.Diagnostic), dl)
	v.Checks = checkLines(n)
	if detail {
		v.Detail = cut(strings.TrimSpace(n.Detail), 200<<10)
	}
	for _, l := range n.Advice.Links {
		if strings.HasPrefix(l.URL, "https://") && !strings.ContainsAny(l.URL, " \t\r\n<>\"") {
			v.Links = append(v.Links, [2]string{oneLine(l.Title), l.URL})
		}
	}
	v.Footer = []string{"このメールは bouncewatch が自動で送信しています（" + notify.Number(n.IncidentID) + "）。"}
	if detail {
		v.Footer = append(v.Footer, "元のエラーメールがあれば添付しています。")
	} else {
		v.Footer = append(v.Footer, "このメールに返信すると、詳細（元のエラーメールなど）をお送りします。")
	}
	return v
}

// Text renders the plain-text body of a notification mail.
func Text(n notify.Notice) string {
	v := newView(n)
	var b strings.Builder
	para := func(lines ...string) {
		for _, l := range lines {
			if l != "" {
				b.WriteString(l + "\n")
			}
		}
	}
	para(v.Title, "")
	if len(v.Summary) > 0 {
		para(v.Summary...)
		b.WriteString("\n（以下は詳しい説明です）\n\n")
	}
	b.WriteString("■ 何が起きたか\n")
	para(v.Headline, v.Explanation, v.Outlook)
	b.WriteString("\n■ 概要\n")
	for _, f := range v.Facts {
		b.WriteString(f[0] + ": " + f[1] + "\n")
	}
	if len(v.Recipients) > 0 {
		b.WriteString("\n■ " + v.RecipientsTitle + "\n")
		for _, r := range v.Recipients {
			b.WriteString("・" + r + "\n")
		}
		if v.More > 0 {
			fmt.Fprintf(&b, "ほか %d 件\n", v.More)
		}
	}
	if len(v.Checks) > 0 {
		b.WriteString("\n■ 確認結果\n")
		para(v.Checks...)
	}
	if len(v.Actions) > 0 {
		b.WriteString("\n■ 対応\n")
		para(v.Actions...)
	}
	if v.Diagnostic != "" {
		b.WriteString("\n■ 受信側の応答（原文）\n" + v.Diagnostic + "\n")
	}
	if v.Detail != "" {
		b.WriteString("\n■ 詳細\n" + v.Detail + "\n")
	}
	if len(v.Links) > 0 {
		b.WriteString("\n■ 参考リンク\n")
		for _, l := range v.Links {
			b.WriteString("・" + l[0] + "\n  " + l[1] + "\n")
		}
	}
	b.WriteString("\n-- \n")
	para(v.Footer...)
	return b.String()
}

const htmlTemplate = `<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body style="font-family:sans-serif;line-height:1.6">
<h2>{{.Title}}</h2>
{{if .Summary}}<div style="border-left:4px solid #c33;padding-left:.8em">{{range .Summary}}<p style="margin:.2em 0">{{.}}</p>{{end}}</div>{{end}}
<h3>何が起きたか</h3>
{{if .Headline}}<p><strong>{{.Headline}}</strong></p>{{end}}
{{if .Explanation}}<p style="white-space:pre-wrap">{{.Explanation}}</p>{{end}}
{{if .Outlook}}<p>{{.Outlook}}</p>{{end}}
<h3>概要</h3>
<table>{{range .Facts}}<tr><th style="text-align:left;padding-right:1em">{{index . 0}}</th><td>{{index . 1}}</td></tr>{{end}}</table>
{{if .Recipients}}<h3>{{.RecipientsTitle}}</h3>
<ul>{{range .Recipients}}<li>{{.}}</li>{{end}}</ul>{{if .More}}<p>ほか {{.More}} 件</p>{{end}}{{end}}
{{if .Checks}}<h3>確認結果</h3>
{{range .Checks}}<p>{{.}}</p>{{end}}{{end}}
{{if .Actions}}<h3>対応</h3>
{{range .Actions}}<p>{{.}}</p>{{end}}{{end}}
{{if .Diagnostic}}<h3>受信側の応答（原文）</h3>
<pre style="white-space:pre-wrap">{{.Diagnostic}}</pre>{{end}}
{{if .Detail}}<h3>詳細</h3>
<pre style="white-space:pre-wrap">{{.Detail}}</pre>{{end}}
{{if .Links}}<h3>参考リンク</h3>
<ul>{{range .Links}}<li><a href="{{index . 1}}">{{index . 0}}</a></li>{{end}}</ul>{{end}}
<hr>{{range .Footer}}<p style="color:#666;font-size:small">{{.}}</p>{{end}}
</body></html>
`

// HTML renders the HTML alternative; html/template escapes every value.
func HTML(n notify.Notice) (string, error) {
	t, err := template.New("mail").Parse(htmlTemplate)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := t.Execute(&b, newView(n)); err != nil {
		return "", fmt.Errorf("email: html: %w", err)
	}
	return b.String(), nil
}

// clean keeps line breaks and tabs but drops other control characters and
// invalid UTF-8 from untrusted text.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
}

// oneLine is clean with line breaks turned into spaces.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(clean(s), "\n", " ")), " ")
}

// cut shortens s to at most n runes, ending in "…".
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
