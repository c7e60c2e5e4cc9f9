package email

import (
	"fmt"
	"html/template"
	"strconv"
	"strings"

	"github.com/bouncewatch/bouncewatch/internal/notify"
)

// A digest mail tells one person about the recipient-side items of a batch
// (one recipient's problem each: unknown address, full mailbox, ...) in one
// mail, as Slack shows them in one digest post: first one short line per
// recipient grouped by what is to be done, then each explanation once with
// the recipients it is true for, then the receivers' own words.

// digestDiagnostic is how much of one receiver's words a digest shows.
const digestDiagnostic = 300

// How many lines a digest mail shows per group, per cause and of the
// receivers' words: one huge bounce (1,000 recipients) gives a mail that
// can still be read, with 「ほか N件」 and every recipient in the attached
// list (DigestListName).
const (
	digestGroupLines = 20
	digestMembers    = 30
	digestWords      = 30
)

// DigestListName is the file name of the text attachment of a digest
// mail that could not show every recipient: one line each.
const DigestListName = "recipients.txt"

// DigestSubject is the subject of a digest mail: notify.DigestTitle, e.g.
// 【宛先ごとの配信エラー】5件：宛先の確認 3件 / 相手の受信箱 2件.
func DigestSubject(items []notify.Notice) string { return notify.DigestTitle(items) }

// ComposeDigest writes a digest mail of items (notify.Notice with Task
// set), text and HTML as Compose does, with the same marks against
// auto-replies. Its Subject is DigestSubject unless a.Subject is set.
func ComposeDigest(items []notify.Notice, a Addressing) ([]byte, error) {
	if len(items) == 0 {
		return nil, fmt.Errorf("email: a digest of no items")
	}
	v := newDigestView(items)
	if a.Subject == "" {
		a.Subject = v.Title
	}
	var ids []string
	for _, it := range items {
		ids = append(ids, strconv.FormatInt(it.IncidentID, 10))
	}
	h, err := mailHeader(a, strings.Join(ids, ","))
	if err != nil {
		return nil, err
	}
	html, err := renderHTML(digestTemplate, v)
	if err != nil {
		return nil, err
	}
	var att []Attachment
	if v.Cut {
		att = append(att, Attachment{Filename: DigestListName, Data: []byte(digestList(items))})
	}
	return write(h, v.text(), html, att)
}

// digestList is every recipient of items, one line each with the cause,
// where the mail stands and the receiver's words.
func digestList(items []notify.Notice) string {
	var b strings.Builder
	b.WriteString(oneLine(DigestSubject(items)) + "\r\n\r\n")
	groups, order := notify.ByTask(items)
	for _, t := range order {
		b.WriteString("■ " + notify.TaskLabel(t) + fmt.Sprintf("（%d件）\r\n", len(groups[t])))
		for _, n := range groups[t] {
			line := oneLine(strings.Join(n.Advice.Recipients, ", ") + "\t" + n.ReasonLabel() + "（" + n.DigestState() + "）")
			if d := cut(oneLine(n.Diagnostic), digestDiagnostic); d != "" {
				line += "\t" + d
			}
			b.WriteString(line + "\r\n")
		}
	}
	return b.String()
}

// more is the line that stands for the rest of a cut list.
func more(n int) string {
	return fmt.Sprintf("ほか %d件（全員の一覧は添付の %s に）", n, DigestListName)
}

// ComposeDigestDetail writes the answer to a reply to a digest mail: the
// note (what was done, or why not), then detail, the long text of every
// item (each bounce with the receiver's words), with attachments.
func ComposeDigestDetail(note, detail string, a Addressing, attachments []Attachment) ([]byte, error) {
	v := digestDetailView{Title: "【詳細】宛先ごとの配信エラー（各宛先のエラーメールの内容）", Note: clean(note),
		Detail: cut(strings.TrimSpace(clean(detail)), 200<<10)}
	if a.Subject == "" {
		a.Subject = v.Title
	}
	h, err := mailHeader(a, "digest")
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString(v.Title + "\n\n")
	if v.Note != "" {
		b.WriteString(v.Note + "\n\n")
	}
	b.WriteString(v.Detail + "\n\n-- \nこのメールは bouncewatch が自動で送信しています。元のエラーメールがあれば添付しています。\n")
	html, err := renderHTML(digestDetailTemplate, v)
	if err != nil {
		return nil, err
	}
	return write(h, b.String(), html, attachments)
}

type digestView struct {
	Title  string
	Cut    bool   // some list was cut: every recipient is in the attachment
	Capped string // notify.CapNote when a bounce named more recipients than recorded
	Groups []digestGroup
	Causes []digestCause
	Words  [][2]string // recipient, the receiver's words
	Footer []string
}

type digestGroup struct {
	Label string
	Lines []string
}

type digestCause struct {
	Task, Label, Explanation, Outlook string
	Members, Actions                  []string
	Links                             [][2]string
}

func newDigestView(items []notify.Notice) digestView {
	v := digestView{Title: oneLine(DigestSubject(items))}
	groups, order := notify.ByTask(items)
	for _, t := range order {
		g := digestGroup{Label: notify.TaskLabel(t) + fmt.Sprintf("（%d件）", len(groups[t]))}
		for i, n := range groups[t] {
			if i == digestGroupLines {
				g.Lines = append(g.Lines, more(len(groups[t])-i))
				v.Cut = true
				break
			}
			g.Lines = append(g.Lines, oneLine(strings.Join(n.Advice.Recipients, ", ")+" "+n.ReasonLabel()+"（"+n.DigestState()+"）"))
		}
		v.Groups = append(v.Groups, g)
		for _, c := range notify.Causes(groups[t]) {
			dc := digestCause{Task: notify.TaskLabel(t), Label: oneLine(c.Label) + fmt.Sprintf("（%d件）", len(c.Members)),
				Explanation: clean(c.Advice.Explanation), Outlook: clean(c.Advice.Outlook)}
			for i, m := range c.Members {
				if i == digestMembers {
					dc.Members = append(dc.Members, more(len(c.Members)-i))
					v.Cut = true
					break
				}
				dc.Members = append(dc.Members, oneLine(m.Line()))
			}
			for i, a := range c.Advice.Actions {
				who := a.Label
				if who == "" {
					who = string(a.Actor)
				}
				line := strconv.Itoa(i+1) + ". "
				if who != "" {
					line += "［" + oneLine(who) + "］"
				}
				dc.Actions = append(dc.Actions, line+clean(a.Text))
			}
			for _, l := range c.Advice.Links {
				if strings.HasPrefix(l.URL, "https://") && !strings.ContainsAny(l.URL, " \t\r\n<>\"") {
					dc.Links = append(dc.Links, [2]string{oneLine(l.Title), l.URL})
				}
			}
			v.Causes = append(v.Causes, dc)
		}
		for _, n := range groups[t] {
			if d := cut(oneLine(n.Diagnostic), digestDiagnostic); d != "" {
				v.Words = append(v.Words, [2]string{oneLine(strings.Join(n.Advice.Recipients, ", ")), d})
			}
		}
	}
	if len(v.Words) > digestWords {
		v.Words = append(v.Words[:digestWords], [2]string{"…", more(len(v.Words) - digestWords)})
		v.Cut = true
	}
	if c := notify.DigestCapped(items); c > 0 {
		v.Capped = notify.CapNote(c)
	}
	v.Footer = []string{
		"このメールは bouncewatch が自動で送信しています（" + strconv.Itoa(len(items)) + "件の宛先をまとめてお知らせしています）。",
		"このメールに返信すると、各宛先の詳細（元のエラーメールの内容など）をお送りします。",
	}
	return v
}

// text renders the plain-text body.
func (v digestView) text() string {
	var b strings.Builder
	b.WriteString(v.Title + "\n\n")
	if v.Capped != "" {
		b.WriteString(v.Capped + "\n\n")
	}
	for _, g := range v.Groups {
		b.WriteString("■ " + g.Label + "\n")
		for _, l := range g.Lines {
			b.WriteString("・" + l + "\n")
		}
	}
	b.WriteString("\n（以下は詳しい説明です）\n")
	for _, c := range v.Causes {
		b.WriteString("\n■ " + c.Task + "：" + c.Label + "\n")
		for _, m := range c.Members {
			b.WriteString("・" + m + "\n")
		}
		for _, p := range []string{c.Explanation, c.Outlook} {
			if p != "" {
				b.WriteString(p + "\n")
			}
		}
		if len(c.Actions) > 0 {
			b.WriteString("対応:\n")
			for _, a := range c.Actions {
				b.WriteString(a + "\n")
			}
		}
		for _, l := range c.Links {
			b.WriteString("参考: " + l[0] + "\n  " + l[1] + "\n")
		}
	}
	if len(v.Words) > 0 {
		b.WriteString("\n■ 受信側の応答（原文）\n")
		for _, w := range v.Words {
			b.WriteString("・" + w[0] + ": " + w[1] + "\n")
		}
	}
	b.WriteString("\n-- \n")
	for _, l := range v.Footer {
		b.WriteString(l + "\n")
	}
	return b.String()
}

type digestDetailView struct {
	Title, Note, Detail string
}

func renderHTML(tmpl string, data any) (string, error) {
	t, err := template.New("mail").Parse(tmpl)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("email: html: %w", err)
	}
	return b.String(), nil
}

const digestTemplate = `<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body style="font-family:sans-serif;line-height:1.6">
<h2>{{.Title}}</h2>
{{if .Capped}}<p><strong>{{.Capped}}</strong></p>{{end}}
<div style="border-left:4px solid #c33;padding-left:.8em">{{range .Groups}}<p style="margin:.4em 0 .1em"><strong>{{.Label}}</strong></p>
<ul style="margin:0">{{range .Lines}}<li>{{.}}</li>{{end}}</ul>{{end}}</div>
<p>（以下は詳しい説明です）</p>
{{range .Causes}}<h3>{{.Task}}：{{.Label}}</h3>
<ul>{{range .Members}}<li>{{.}}</li>{{end}}</ul>
{{if .Explanation}}<p style="white-space:pre-wrap">{{.Explanation}}</p>{{end}}
{{if .Outlook}}<p>{{.Outlook}}</p>{{end}}
{{if .Actions}}<p><strong>対応</strong></p>{{range .Actions}}<p style="margin:.2em 0">{{.}}</p>{{end}}{{end}}
{{if .Links}}<ul>{{range .Links}}<li><a href="{{index . 1}}">{{index . 0}}</a></li>{{end}}</ul>{{end}}
{{end}}
{{if .Words}}<h3>受信側の応答（原文）</h3>
<ul>{{range .Words}}<li>{{index . 0}}: <code>{{index . 1}}</code></li>{{end}}</ul>{{end}}
<hr>{{range .Footer}}<p style="color:#666;font-size:small">{{.}}</p>{{end}}
</body></html>
`

const digestDetailTemplate = `<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body style="font-family:sans-serif;line-height:1.6">
<h2>{{.Title}}</h2>
{{if .Note}}<p>{{.Note}}</p>{{end}}
<pre style="white-space:pre-wrap">{{.Detail}}</pre>
<hr><p style="color:#666;font-size:small">このメールは bouncewatch が自動で送信しています。元のエラーメールがあれば添付しています。</p>
</body></html>
`
