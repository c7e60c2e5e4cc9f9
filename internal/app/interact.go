package app

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/advice"
	"github.com/bouncewatch/bouncewatch/internal/notify"
	"github.com/bouncewatch/bouncewatch/internal/notify/slack"
	"github.com/bouncewatch/bouncewatch/internal/store"
)

// People ask for more through two doors: a reply to a summary mail (see
// replies.go) and the Slack thread or buttons (here). Both end as a
// store.Request: a mute or resolve is applied in the transaction that
// records the request, and the answer is an outbox row, retried until
// delivered and never sent twice.

// detailNotice is the long version of an incident, for a person who asked.
func detailNotice(det *store.Detail, lang advice.Lang, note string) notify.Notice {
	n := notice(det, store.KindDetail, lang, 200)
	var ms []advice.DetailMember
	for _, m := range det.Members {
		ms = append(ms, advice.DetailMember{At: m.At, Report: m.Report, Recipient: m.Recipient})
	}
	var tl []advice.TimelineEntry
	for _, e := range det.Log {
		tl = append(tl, advice.TimelineEntry{At: e.At, Kind: string(e.Kind), Actor: e.Actor, Count: e.Count})
	}
	n.Detail = notify.PlainLinks(advice.DetailText(ms, tl, lang, notify.JST()))
	if note != "" {
		n.Detail = note + "\n\n" + n.Detail
	}
	return n
}

// detailWithChecks is detailNotice with the 「確認結果」 of the sender
// checks, for an incident that concerns our IP or domain: the memoised
// results when the notice ran them lately, else a fresh run that waits no
// longer than the checks' deadline.
func detailWithChecks(ctx context.Context, checks checksFunc, det *store.Detail, lang advice.Lang, note string) notify.Notice {
	n := detailNotice(det, lang, note)
	if checks != nil {
		checks(ctx, det, &n)
	}
	return n
}

// commandNote is the sentence that answers a command: what was done (the
// change itself was applied when the request was recorded), or why it was
// not; "" for detail and raw. until is the mute asked for; the incident may
// be muted longer already.
func commandNote(det *store.Detail, cmd string, until time.Time, refused bool) string {
	switch {
	case refused && changesState(cmd):
		return "「停止」「解決」のご依頼はメールでは受け付けていません。このメールが本当にあなたから届いたものか、" +
			"受信サーバーの認証結果(SPF/DKIM/DMARC)で確かめられなかったためです。Slack の通知のスレッドかボタンからお願いします" +
			"(Slack をお使いでなければ、IT 担当の方にご相談ください)。この件の詳細は以下のとおりです。"
	case cmd == cmdMute:
		if det.MutedUntil.After(until) {
			until = det.MutedUntil
		}
		return muteNote(until)
	case cmd == cmdResolve:
		return "この件を解決済みにしました。同じ原因のエラーが再び届いた場合は、新しい件として通知します。"
	}
	return ""
}

func muteNote(until time.Time) string {
	return fmt.Sprintf("この件の通知を %s まで停止しました。それまでに同じ原因のエラーが届いても通知しません(記録は続けます)。",
		until.In(notify.JST()).Format("2006/01/02 15:04"))
}

// slackPayload is the outbox payload of a Slack answer in a thread.
type slackPayload struct {
	ThreadTS string    `json:"thread_ts"`
	User     string    `json:"user"`
	Command  string    `json:"command"`
	Until    time.Time `json:"until,omitempty"`
	// Digest marks a reply in a digest's thread: the answer is about all
	// the digest's items (slackSender.digestAnswer); Asked is what the
	// person asked, Command is then always detail.
	Digest bool   `json:"digest,omitempty"`
	Asked  string `json:"asked,omitempty"`
}

// slackHandler receives thread replies and button presses from Socket Mode.
// It only records what was asked (an outbox row) and wakes the sender: the
// listener has already acknowledged the event.
type slackHandler struct{ a *App }

var _ slack.Handler = slackHandler{}

func (h slackHandler) OnThreadReply(ctx context.Context, channel, threadTS, user, text string) {
	id, err := h.a.db.IncidentBySlackTS(ctx, channel, threadTS)
	if err != nil {
		// A digest's thread: one answer about all its items, recorded on
		// the first of them. A digest has no mute or resolve.
		ids, derr := h.a.db.DigestItems(ctx, channel, threadTS)
		if derr != nil || len(ids) == 0 {
			return // a thread that is not one of ours
		}
		cmd, _ := parseCommand(text)
		h.request(ctx, ids[0], slackPayload{ThreadTS: threadTS, User: user, Command: cmdDetail, Digest: true, Asked: cmd}, 0)
		return
	}
	cmd, d := parseCommand(text)
	h.request(ctx, id, slackPayload{ThreadTS: threadTS, User: user, Command: cmd}, d)
}

func (h slackHandler) OnAction(ctx context.Context, actionID, value, channel, messageTS, user string) {
	id, err := strconv.ParseInt(value, 10, 64)
	if err != nil {
		return
	}
	if got, err := h.a.db.IncidentBySlackTS(ctx, channel, messageTS); err == nil && got != id {
		h.a.log.Warn("slack button does not belong to its message; ignored", "incident", id, "ts", messageTS)
		return
	}
	cmd := map[string]string{slack.ActionDetail: cmdDetail, slack.ActionMute: cmdMute, slack.ActionResolve: cmdResolve}[actionID]
	if cmd == "" {
		return
	}
	h.request(ctx, id, slackPayload{ThreadTS: messageTS, User: user, Command: cmd}, defaultMute)
}

func (h slackHandler) request(ctx context.Context, id int64, p slackPayload, mute time.Duration) {
	if p.Command == cmdMute {
		p.Until = h.a.opts.Now().Add(mute)
	}
	js, _ := json.Marshal(p)
	// The change is applied with the request, in one transaction; the
	// answer in the thread is an outbox row.
	rq := store.Request{IncidentID: id, Target: store.TargetSlack, Kind: store.KindAnswer, Payload: js, MuteUntil: p.Until,
		Resolve: p.Command == cmdResolve, Actor: "slack:" + p.User}
	if err := h.a.db.Request(ctx, rq, h.a.opts.Now(), h.a.targets); err != nil {
		h.a.log.Error("slack request not recorded", "incident", id, "err", err)
		return
	}
	h.a.log.Info("slack request", "incident", id, "command", p.Command, "user", p.User)
	kick(h.a.kickTick)
	kick(h.a.kickSend)
}

// extraLoops are the loops that depend on the configuration: the Slack
// Socket Mode listener when an app token is set.
func (a *App) extraLoops() []loop {
	if a.cfg.SlackAppToken == "" || a.senders[store.TargetSlack] == nil {
		return nil
	}
	l := slack.NewListener(slack.ListenerConfig{
		AppToken: a.cfg.SlackAppToken, BotToken: a.cfg.SlackToken, APIURL: a.cfg.SlackAPIURL, HTTPClient: a.opts.HTTPClient,
	}, slackHandler{a}, a.log.With("component", "slack-socket"))
	return []loop{{name: "slack-socket", run: func(ctx context.Context) error {
		// Reconnect with backoff; an error is logged when it changes (a
		// misconfiguration is said once, not every few seconds), and a
		// refused token is retried slowly.
		attempt, last := 0, ""
		for {
			start := a.opts.Now()
			err := l.Run(ctx)
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if a.opts.Now().Sub(start) > 10*time.Minute {
				attempt = 0 // it ran a good while: a fresh failure
			}
			attempt++
			retry, _ := notify.Retryable(err)
			wait := backoff(attempt)
			if !retry {
				wait = 15 * time.Minute
			}
			if msg := err.Error(); msg != last {
				a.log.Warn("slack socket mode stopped; reconnecting with backoff", "err", err, "in", wait.Round(time.Second))
				last = msg
			} else {
				a.log.Debug("slack socket mode stopped again", "err", err, "in", wait.Round(time.Second))
			}
			if !sleep(ctx, a.opts.Clock, wait) {
				return ctx.Err()
			}
		}
	}}}
}
