package advice

import (
	"fmt"
	"strings"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/bounce"
)

// DetailMember is one bounced recipient of an incident, for the detail view.
type DetailMember struct {
	At        time.Time // when the bounce arrived
	Report    *bounce.Report
	Recipient bounce.Recipient
}

// TimelineEntry is one event of an incident (a notice sent, a mute, a resolve).
type TimelineEntry struct {
	At    time.Time
	Kind  string // first, update, repeat, resolved, muted, detail
	Actor string // who did it, for mutes and resolves
	Count int    // bounces counted at that moment
}

// DetailText renders everything known about an incident's bounces: every
// affected recipient with the time, the original subject, status and reply
// code, the receiver's full words and their gist, the remote server, the
// sending IP, and the timeline. It is what a person gets by replying
// 「詳細」 to a summary or pressing 詳細を見る in Slack.
func DetailText(members []DetailMember, timeline []TimelineEntry, lang Lang, loc *time.Location) string {
	if loc == nil {
		loc = time.Local
	}
	en := lang == English
	var b strings.Builder
	if en {
		fmt.Fprintf(&b, "Bounces in this incident (%d):\n", len(members))
	} else {
		fmt.Fprintf(&b, "この件のエラーメール(%d件):\n", len(members))
	}
	for i, m := range members {
		rc := m.Recipient
		rep := m.Report
		if rep == nil {
			rep = &bounce.Report{}
		}
		fmt.Fprintf(&b, "\n%d. %s\n", i+1, rc.Address)
		line := func(ja, enl, v string) {
			if v == "" {
				return
			}
			label := ja
			if en {
				label = enl
			}
			fmt.Fprintf(&b, "   %s: %s\n", label, v)
		}
		if !m.At.IsZero() {
			line("受信日時", "Received", m.At.In(loc).Format("2006-01-02 15:04"))
		}
		line("元のメールの件名", "Original subject", rep.Original.Subject)
		if !rep.Original.Date.IsZero() {
			line("元のメールの送信日時", "Original sent", rep.Original.Date.In(loc).Format("2006-01-02 15:04"))
		}
		line("差出人", "From", rep.Original.From)
		codes := strings.TrimSpace(strings.Join(nonEmpty(rc.Status, rc.ReplyCode), " / "))
		line("ステータス/応答コード", "Status / reply code", codes)
		state := deliveryLabel(DeliveryOf(rep, rc), en)
		line("状態", "State", state)
		line("理由", "Reason", string(rc.Reason))
		line("相手サーバー", "Remote server", rc.RemoteMTA)
		line("送信元IP", "Sending IP", rep.SendingIP)
		line("報告したサーバー", "Reported by", rep.ReportingMTA)
		a := ForRecipient(rep, rc, lang)
		line("要点", "Gist", a.Explanation)
		line("相手サーバーの応答(原文)", "Receiver's words", rc.Diagnostic)
	}
	if len(timeline) > 0 {
		if en {
			b.WriteString("\nTimeline:\n")
		} else {
			b.WriteString("\n経過:\n")
		}
		for _, e := range timeline {
			fmt.Fprintf(&b, "- %s %s", e.At.In(loc).Format("01/02 15:04"), timelineLabel(e.Kind, en))
			if e.Count > 0 {
				if en {
					fmt.Fprintf(&b, " (%d bounces)", e.Count)
				} else {
					fmt.Fprintf(&b, " (%d件)", e.Count)
				}
			}
			if e.Actor != "" {
				fmt.Fprintf(&b, " — %s", e.Actor)
			}
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// deliveryLabel says where the mail stands, for the detail view.
func deliveryLabel(d Delivery, en bool) string {
	ja := map[Delivery]string{
		DeliveryRetrying:  "再送中(まだ届く可能性があります)",
		DeliveryFailed:    "不達(受け取りを拒否され、届いていません)",
		DeliveryExpired:   "不達(再送の期限切れで配送をあきらめました。届いていません)",
		DeliveryDelivered: "配送済み",
		DeliveryUnknown:   "不明(エラーメールに書かれていません)",
	}
	eng := map[Delivery]string{
		DeliveryRetrying:  "still being retried (may still arrive)",
		DeliveryFailed:    "not delivered (refused)",
		DeliveryExpired:   "not delivered (retry period expired, given up)",
		DeliveryDelivered: "delivered",
		DeliveryUnknown:   "unknown (the report does not say)",
	}
	if en {
		return eng[d]
	}
	return ja[d]
}

func timelineLabel(kind string, en bool) string {
	ja := map[string]string{"first": "最初の通知", "update": "更新の通知", "repeat": "継続中の通知", "resolved": "解決済み", "muted": "通知停止", "detail": "詳細の送付"}
	eng := map[string]string{"first": "first notice", "update": "update", "repeat": "reminder", "resolved": "resolved", "muted": "muted", "detail": "detail sent"}
	m := ja
	if en {
		m = eng
	}
	if s, ok := m[kind]; ok {
		return s
	}
	return kind
}

func nonEmpty(xs ...string) []string {
	var out []string
	for _, x := range xs {
		if x != "" {
			out = append(out, x)
		}
	}
	return out
}
