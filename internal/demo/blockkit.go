package demo

import (
	"encoding/json"
	"fmt"
	"html"
	"regexp"
	"strings"

	slackgo "github.com/slack-go/slack"
)

// BlockKitHTML renders Slack Block Kit payloads as a standalone HTML page
// that looks roughly like Slack shows them: the real payloads the Slack
// notifier sends, so a person can see a notification without Slack.
func BlockKitHTML(title string, messages [][]slackgo.Block) (string, error) {
	var b strings.Builder
	b.WriteString(`<!doctype html><html lang="ja"><meta charset="utf-8"><title>` + html.EscapeString(title) + `</title>
<style>
body{font-family:"Noto Sans CJK JP","Hiragino Sans",Lato,sans-serif;background:#f8f8f8;margin:0;padding:24px;color:#1d1c1d}
.msg{background:#fff;border:1px solid #ddd;border-radius:8px;padding:16px 20px;margin:0 auto 24px;max-width:760px;display:flex;gap:12px}
.avatar{width:36px;height:36px;border-radius:6px;background:#e01e5a;color:#fff;font-weight:bold;display:flex;align-items:center;justify-content:center;flex:none}
.body{flex:1;min-width:0}.who{font-weight:bold;margin-bottom:6px}.who span{font-weight:normal;color:#616061;font-size:12px;margin-left:6px}
h2{font-size:18px;margin:4px 0 8px}.sec{margin:6px 0;line-height:1.5;white-space:pre-wrap;font-size:15px}
.fields{display:grid;grid-template-columns:1fr 1fr;gap:6px 16px;margin:8px 0;font-size:14px}
.ctx{color:#616061;font-size:12px;margin-top:8px}.btns{margin-top:10px;display:flex;gap:8px}
.btn{border:1px solid #bbb;border-radius:4px;padding:4px 12px;font-size:14px;font-weight:bold;background:#fff}
.btn.primary{background:#007a5a;color:#fff;border-color:#007a5a}.btn.danger{color:#e01e5a}
code{background:#f2f2f2;border:1px solid #ddd;border-radius:3px;padding:0 3px;font-size:13px}
pre{background:#f8f8f8;border:1px solid #ddd;border-radius:4px;padding:8px;white-space:pre-wrap;font-size:13px}
hr{border:none;border-top:1px solid #eee}
</style><body>`)
	for _, blocks := range messages {
		js, err := json.Marshal(slackgo.Blocks{BlockSet: blocks})
		if err != nil {
			return "", err
		}
		var raw []map[string]any
		if err := json.Unmarshal(js, &raw); err != nil {
			return "", err
		}
		b.WriteString(`<div class="msg"><div class="avatar">bw</div><div class="body"><div class="who">bouncewatch<span>APP</span></div>`)
		for _, blk := range raw {
			renderBlock(&b, blk)
		}
		b.WriteString(`</div></div>`)
	}
	b.WriteString(`</body></html>`)
	return b.String(), nil
}

func textOf(v any) string {
	m, _ := v.(map[string]any)
	s, _ := m["text"].(string)
	if t, _ := m["type"].(string); t == "mrkdwn" {
		return mrkdwnHTML(s)
	}
	return html.EscapeString(s)
}

var (
	boldRe = regexp.MustCompile(`\*([^*\n]+)\*`)
	codeRe = regexp.MustCompile("```([\\s\\S]*?)```")
	tickRe = regexp.MustCompile("`([^`\n]+)`")
	linkRe = regexp.MustCompile(`<(https?://[^|>]+)\|([^>]*)>|<(https?://[^>]+)>`)
)

// mrkdwnHTML converts the subset of Slack mrkdwn the notifier uses. The
// text arrives escaped for Slack (&amp; &lt; &gt;), which is also valid HTML.
func mrkdwnHTML(s string) string {
	s = strings.ReplaceAll(s, "\u200b", "")
	s = codeRe.ReplaceAllString(s, "<pre>$1</pre>")
	s = tickRe.ReplaceAllString(s, "<code>$1</code>")
	s = boldRe.ReplaceAllString(s, "<b>$1</b>")
	s = linkRe.ReplaceAllStringFunc(s, func(m string) string {
		p := linkRe.FindStringSubmatch(m)
		if p[1] != "" {
			return fmt.Sprintf(`<a href="%s">%s</a>`, p[1], p[2])
		}
		return fmt.Sprintf(`<a href="%s">%s</a>`, p[3], p[3])
	})
	return s
}

func renderBlock(b *strings.Builder, blk map[string]any) {
	switch blk["type"] {
	case "header":
		b.WriteString("<h2>" + textOf(blk["text"]) + "</h2>")
	case "section":
		if blk["text"] != nil {
			b.WriteString(`<div class="sec">` + textOf(blk["text"]) + `</div>`)
		}
		if fs, ok := blk["fields"].([]any); ok {
			b.WriteString(`<div class="fields">`)
			for _, f := range fs {
				b.WriteString(`<div class="sec">` + textOf(f) + `</div>`)
			}
			b.WriteString(`</div>`)
		}
	case "divider":
		b.WriteString("<hr>")
	case "context":
		b.WriteString(`<div class="ctx">`)
		if es, ok := blk["elements"].([]any); ok {
			for _, e := range es {
				b.WriteString(textOf(e) + " ")
			}
		}
		b.WriteString(`</div>`)
	case "actions":
		b.WriteString(`<div class="btns">`)
		if es, ok := blk["elements"].([]any); ok {
			for _, e := range es {
				m, _ := e.(map[string]any)
				style, _ := m["style"].(string)
				b.WriteString(`<span class="btn ` + html.EscapeString(style) + `">` + textOf(m["text"]) + `</span>`)
			}
		}
		b.WriteString(`</div>`)
	}
}
