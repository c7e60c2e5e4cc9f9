package app

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/advice"
	"github.com/bouncewatch/bouncewatch/internal/bounce"
	"github.com/bouncewatch/bouncewatch/internal/health"
	"github.com/bouncewatch/bouncewatch/internal/incident"
	"github.com/bouncewatch/bouncewatch/internal/notify"
	"github.com/bouncewatch/bouncewatch/internal/notify/email"
	"github.com/bouncewatch/bouncewatch/internal/notify/slack"
	"github.com/bouncewatch/bouncewatch/internal/store"

	slackgo "github.com/slack-go/slack"
)

// maxListed is how many affected recipients a summary names before ほか N 件.
const maxListed = 10

func (a *App) buildSenders(ctx context.Context) error {
	for _, t := range a.targets {
		switch t {
		case store.TargetStdout:
			a.senders[t] = &stdoutSender{w: a.opts.Stdout, text: a.opts.StdoutText, mu: &a.stdoutMu, checks: a.withChecks, advice: a.cfg.AdviceOptions(), db: a.db, now: a.opts.Now}
		case store.TargetSlack:
			a.senders[t] = &slackSender{
				checks:  a.withChecks,
				advice:  a.cfg.AdviceOptions(),
				db:      a.db,
				channel: a.cfg.SlackChannel,
				n: slack.New(slack.Config{Token: a.cfg.SlackToken, APIURL: a.cfg.SlackAPIURL, HTTPClient: a.opts.HTTPClient,
					Now: a.opts.Now, Backoff: a.opts.RetryBase}, a.log.With("component", "slack")),
				now: a.opts.Now,
			}
		case store.TargetEmail:
			key, err := a.secret()
			if err != nil {
				return err
			}
			snd, err := email.NewSender(email.Config{
				Addr: a.cfg.SMTPAddr, TLS: email.TLSMode(a.cfg.SMTPTLS), Username: a.cfg.SMTPUsername,
				Password: a.cfg.SMTPPassword, From: a.cfg.SMTPFrom, ReplyTo: a.cfg.IMAPUsername, TLSConfig: a.opts.SMTPTLS,
			})
			if err != nil {
				return fmt.Errorf("email: %w", err)
			}
			a.replies = newReplies(key, a.db, a.cfg, a.log.With("component", "replies"))
			a.senders[t] = &emailSender{allowed: a.replies.allowed, db: a.db, key: key, cfg: a.cfg, s: snd, now: a.opts.Now, checks: a.withChecks}
		}
	}
	return nil
}

// notice builds the notification of an incident from its stored detail.
func notice(det *store.Detail, kind store.Kind, lang advice.Lang, listed int, opts ...advice.Option) notify.Notice {
	n := notify.Notice{
		IncidentID: det.ID,
		Kind:       notify.Kind(kind),
		SendingIP:  det.Key.SendingIP,
		Provider:   det.Key.Provider,
		Count:      det.Count,
		First:      det.FirstAt.In(notify.JST()),
		Last:       det.LastAt.In(notify.JST()),
	}
	g := advice.Group{Count: det.Count, First: n.First, Last: n.Last}
	for _, m := range det.Members {
		g.Report, g.Recipient = m.Report, m.Recipient
		subj := ""
		if m.Report != nil {
			subj = m.Report.Original.Subject
		}
		g.Members = append(g.Members, advice.Member{Address: m.Recipient.Address, At: m.At.In(notify.JST()), Subject: subj})
		if m.Report != nil && m.Report.Truncated {
			n.Capped = max(n.Capped, len(m.Report.Recipients))
		}
	}
	if g.Report == nil {
		g.Report = &bounce.Report{SendingIP: det.Key.SendingIP, ReportingMTA: det.Key.ReportingMTA}
		g.Recipient = bounce.Recipient{Reason: det.Reason, Provider: det.Key.Provider}
	}
	n.Advice = advice.ForGroup(g, lang, listed, opts...)
	if det.Key.Side == incident.SideRecipient {
		n.Task = string(incident.TaskOf(det.Key.Cause))
	}
	if det.State == incident.StateResolved && n.Kind != notify.KindDetail {
		n.Kind = notify.KindResolved
	}
	n.ProviderName = advice.ProviderName(g.Recipient, lang)
	n.Reason = n.Advice.Title
	n.Diagnostic = g.Recipient.Diagnostic
	// Links in bounce text are the sender's, not ours: plain text unless known.
	return n.WithPlainLinks()
}

// stdoutSender prints incident notices: JSON Lines, or readable text.
type stdoutSender struct {
	w      io.Writer
	text   bool
	mu     *sync.Mutex
	checks checksFunc
	advice []advice.Option
	db     *store.DB
	now    func() time.Time
}

// stdoutDigestLines is how many recipients per group the short part of a
// printed digest names; the details below name them all.
const stdoutDigestLines = 10

// stdoutDigests is the "channel" under which the digests printed as text
// are recorded.
const stdoutDigests = "stdout"

func (s *stdoutSender) send(ctx context.Context, it store.OutboxItem, det *store.Detail) (string, error) {
	if s.text && it.Kind == store.KindFirst && det.Key.Side == incident.SideRecipient {
		return s.digest(ctx, it, det)
	}
	n := notice(det, it.Kind, advice.Japanese, maxListed, s.advice...)
	s.checks(ctx, det, &n)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.text {
		title := map[store.Kind]string{store.KindFirst: "新しい配信エラー", store.KindUpdate: "更新", store.KindRepeat: "継続中", store.KindResolved: "解決済み", store.KindMuted: "通知停止"}[it.Kind]
		if it.Kind == store.KindFirst && n.Advice.Retrying {
			title = "新しい配送遅延"
		}
		// The short shape first (as in Slack and the mails), then the details.
		var b strings.Builder
		fmt.Fprintf(&b, "\n━━━ bouncewatch %s (%s) ━━━\n%s\n", notify.Number(det.ID), title, n.Title())
		for _, l := range n.Summary() {
			b.WriteString(l + "\n")
		}
		b.WriteString("  ── 詳細 ──\n")
		for _, l := range strings.Split(strings.TrimRight(n.Advice.Text(), "\n"), "\n") {
			b.WriteString("  " + l + "\n")
		}
		b.WriteString(checksText(n))
		_, err := io.WriteString(s.w, b.String())
		return "", err
	}
	line := struct {
		Event    string             `json:"event"`
		Kind     store.Kind         `json:"kind"`
		Incident int64              `json:"incident"`
		Key      string             `json:"key"`
		Count    int                `json:"count"`
		First    time.Time          `json:"first"`
		Last     time.Time          `json:"last"`
		Advice   advice.GroupAdvice `json:"advice"`
		Text     string             `json:"text"`
		Checks   *health.Summary    `json:"checks,omitempty"`
		// A bounce of the incident named more recipients than the
		// Recorded first ones (notify.Notice.Capped).
		Truncated bool `json:"truncated,omitempty"`
		Recorded  int  `json:"recorded_recipients,omitempty"`
	}{"incident", it.Kind, det.ID, det.Key.String(), det.Count, n.First, n.Last, n.Advice, n.Advice.Text(), n.Checks, n.Capped > 0, n.Capped}
	b, err := json.Marshal(line)
	if err != nil {
		return "", notify.Permanent(err)
	}
	_, err = s.w.Write(append(b, '\n'))
	return "", err
}

// digest prints the recipient-side items waiting for their first notice as
// one digest, as Slack shows them: one line per recipient, grouped by what
// is to be done, then each cause's explanation and actions once.
func (s *stdoutSender) digest(ctx context.Context, it store.OutboxItem, det *store.Detail) (string, error) {
	if ref, ok, err := s.db.DigestRef(ctx, det.ID, stdoutDigests); err != nil || ok {
		return ref, err // printed with an earlier item
	}
	p, err := s.db.PendingDigest(ctx, store.TargetStdout, stdoutDigests, maxDigest)
	if err != nil {
		return "", err
	}
	if !slices.Contains(p.Items, det.ID) {
		p.Items = append(p.Items, det.ID)
	}
	items, err := recipientItems(ctx, s.db, p.Items, s.advice...)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n━━━ bouncewatch 通知 (宛先ごと) ━━━\n%s\n", notify.DigestTitle(items))
	if c := notify.DigestCapped(items); c > 0 {
		b.WriteString(notify.CapNote(c) + "\n")
	}
	groups, order := notify.ByTask(items)
	for _, t := range order {
		fmt.Fprintf(&b, "■ %s\n", notify.TaskLabel(t))
		for i, n := range groups[t] {
			if i == stdoutDigestLines {
				fmt.Fprintf(&b, "・ほか %d件（全員は下の詳細に）\n", len(groups[t])-i)
				break
			}
			fmt.Fprintf(&b, "・%s %s（%s）\n", strings.Join(n.Advice.Recipients, ", "), n.ReasonLabel(), n.DigestState())
		}
	}
	b.WriteString("  ── 詳細 ──\n")
	for _, t := range order {
		for _, c := range notify.Causes(groups[t]) {
			fmt.Fprintf(&b, "  %s（%d件）\n", c.Label, len(c.Members))
			for _, m := range c.Members {
				fmt.Fprintf(&b, "    ・%s\n", m.Line())
			}
			for _, l := range []string{c.Advice.Explanation, c.Advice.Outlook} {
				if l != "" {
					fmt.Fprintf(&b, "    %s\n", l)
				}
			}
			for i, a := range c.Advice.Actions {
				fmt.Fprintf(&b, "    %d. 【%s】%s\n", i+1, a.Label, a.Text)
			}
		}
	}
	ref := "digest-" + strconv.FormatInt(it.ID, 10)
	s.mu.Lock()
	_, err = io.WriteString(s.w, b.String())
	s.mu.Unlock()
	if err != nil {
		return "", err
	}
	return ref, s.db.SetDigestRef(context.WithoutCancel(ctx), p.Items, stdoutDigests, ref, s.now())
}

// printReports writes each new bounce or delay report as it is recorded
// (stdout target only), before any grouping: the immediate feedback of `run`.
func (a *App) printReports(reports []*bounce.Report) {
	s, ok := a.senders[store.TargetStdout].(*stdoutSender)
	if !ok || len(reports) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rep := range reports {
		if s.text {
			for _, rc := range rep.Recipients {
				fmt.Fprintf(s.w, "受信: %s %s 宛て %s (%s %s)\n", kindLabel(rep.Kind), rc.Address, rc.Reason, rc.Status, rc.ReplyCode)
			}
			continue
		}
		b, err := json.Marshal(struct {
			Event string `json:"event"`
			*bounce.Report
		}{"report", rep})
		if err == nil {
			s.w.Write(append(b, '\n'))
		}
	}
}

func kindLabel(k bounce.Kind) string {
	if k == bounce.KindDelay {
		return "配送遅延"
	}
	return "配信エラー"
}

// slackSender posts one message per incident and edits it as it grows;
// answers to people go in the incident's thread.
type slackSender struct {
	checks  checksFunc
	advice  []advice.Option
	db      *store.DB
	channel string
	n       *slack.Notifier
	now     func() time.Time
}

func (s *slackSender) send(ctx context.Context, it store.OutboxItem, det *store.Detail) (string, error) {
	if it.Kind == store.KindAnswer {
		return s.answer(ctx, it, det)
	}
	if det.Key.Side == incident.SideRecipient {
		return s.digest(ctx, it, det)
	}
	n := notice(det, it.Kind, advice.Japanese, maxListed, s.advice...)
	s.checks(ctx, det, &n)
	ts, err := s.show(ctx, it, det, n)
	if err != nil || ts == "skipped" {
		return ts, err
	}
	if err := s.listHidden(ctx, it, ts, det, n); err != nil {
		return "", err
	}
	if it.Kind == store.KindFirst {
		// The sender checks in full in the thread; the message has one line.
		if blocks, fb := slack.ChecksBlocks(n); len(blocks) > 0 {
			if err := s.replyOnce(ctx, it, ts, "checks", fb, blocks); err != nil {
				return "", err
			}
		}
	}
	return ts, nil
}

// show posts the incident's message, or edits it when it was posted.
func (s *slackSender) show(ctx context.Context, it store.OutboxItem, det *store.Detail, n notify.Notice) (string, error) {
	ts, ok, err := s.db.SlackRef(ctx, det.ID, s.channel)
	if err != nil {
		return "", err
	}
	if !ok {
		if it.Kind == store.KindMuted {
			return "skipped", nil // nothing posted yet: nothing to show the mute on
		}
		key := it.IdempotencyKey()
		if it.Attempts > 1 {
			// An earlier attempt may have posted and lost Slack's answer.
			ts, found, err := s.n.FindPosted(ctx, s.channel, key, it.CreatedAt.Add(-time.Minute))
			if retry, _ := notify.Retryable(err); err != nil && retry {
				return "", err
			}
			if found {
				// Show the current state on it, as an update would.
				if err := s.db.SetSlackRef(context.WithoutCancel(ctx), det.ID, s.channel, ts, s.now()); err != nil {
					return "", fmt.Errorf("slack message %s found but not recorded: %w", ts, err)
				}
				return s.update(ctx, det, ts, n)
			}
			// Not found, or the history cannot be read (no scope): post.
		}
		ts, err := s.n.PostKeyed(ctx, s.channel, key, n)
		if err != nil {
			return "", err
		}
		// Remember the message before the row is marked sent: a retry then
		// edits it instead of posting a second one. When that fails, the
		// retry finds the message by its key instead.
		if err := s.db.SetSlackRef(context.WithoutCancel(ctx), det.ID, s.channel, ts, s.now()); err != nil {
			return "", fmt.Errorf("slack message %s posted but not recorded: %w", ts, err)
		}
		return ts, nil
	}
	return s.update(ctx, det, ts, n)
}

// listHidden names, in the thread of the message at ts, the recipients the
// channel message has no room for: every recipient is named somewhere.
func (s *slackSender) listHidden(ctx context.Context, it store.OutboxItem, ts string, det *store.Detail, n notify.Notice) error {
	switch it.Kind {
	case store.KindFirst, store.KindUpdate, store.KindRepeat:
	default:
		return nil
	}
	if slack.Hidden(n) == nil {
		return nil
	}
	all := notice(det, it.Kind, advice.Japanese, 0).Advice // every loaded member
	blocks, fb := slack.ListBlocks(fmt.Sprintf("この件の宛先（%d件）", len(all.Recipients)+all.More), all.Recipients, all.More)
	return s.replyOnce(ctx, it, ts, "list", fb, blocks)
}

// findReply looks in the thread of ts for the reply an earlier attempt
// posted under key. A lookup that failed for a while (Slack down, the
// workspace paused) is an error to retry: posting without knowing would
// post twice when the earlier attempt had posted. One that can never
// succeed is "not found", as for FindPosted.
func (s *slackSender) findReply(ctx context.Context, ts, key string) (string, bool, error) {
	found, ok, err := s.n.FindReply(ctx, s.channel, ts, key)
	if retry, _ := notify.Retryable(err); err != nil && !retry {
		return "", false, nil
	}
	return found, ok, err
}

// replyOnce posts a reply in the thread of ts, once per outbox row and
// part: a retry first looks for the reply an earlier attempt posted.
func (s *slackSender) replyOnce(ctx context.Context, it store.OutboxItem, ts, part, text string, blocks []slackgo.Block) error {
	key := it.IdempotencyKey() + ":" + part
	if it.Attempts > 1 {
		if _, ok, err := s.findReply(ctx, ts, key); err != nil || ok {
			return err
		}
	}
	_, err := s.n.ReplyKeyed(ctx, s.channel, ts, key, text, blocks)
	return err
}

// digest shows a recipient-side item (one recipient's problem) in a digest
// message shared with the other items waiting for their first notice, one
// line each, grouped by what is to be done; the explanations and actions go
// in its thread. Later changes of an item (a delay that failed, resolved)
// edit the digest that shows it.
func (s *slackSender) digest(ctx context.Context, it store.OutboxItem, det *store.Detail) (string, error) {
	ts, ok, err := s.db.DigestRef(ctx, det.ID, s.channel)
	if err != nil {
		return "", err
	}
	switch {
	case ok && it.Kind == store.KindFirst:
		return ts, nil // posted with the digest that gathered it
	case ok && it.Kind == store.KindMuted, !ok && it.Kind != store.KindFirst:
		return "skipped", nil // a digest has no mute; nothing shown yet to change
	case ok:
		newTS, err := s.editDigest(ctx, ts)
		if err != nil || it.Kind != store.KindUpdate {
			return newTS, err
		}
		// The thread's explanation was for the item as it was: the item
		// as it is now follows it (a delay that failed is told so).
		items, err := s.items(ctx, []int64{det.ID})
		if err != nil {
			return "", err
		}
		blocks, fb := slack.DigestUpdate(items)
		return newTS, s.replyOnce(ctx, it, newTS, "thread", fb, blocks)
	}
	p, err := s.db.PendingDigest(ctx, store.TargetSlack, s.channel, maxDigest)
	if err != nil {
		return "", err
	}
	if !slices.Contains(p.Items, det.ID) {
		p.Items = append(p.Items, det.ID)
	}
	if p.FirstRow == 0 || it.ID < p.FirstRow {
		p.FirstRow = it.ID
	}
	// The key is the same whichever item's row posts the digest, so that a
	// digest posted by an attempt whose answer was lost is found by the next
	// attempt of any of them.
	key := "bouncewatch-digest-" + strconv.FormatInt(p.FirstRow, 10)
	retry := p.Tried || it.Attempts > 1
	items, err := s.items(ctx, p.Items)
	if err != nil {
		return "", err
	}
	ts = ""
	if retry {
		found, ok, err := s.n.FindPosted(ctx, s.channel, key, it.CreatedAt.Add(-time.Hour))
		if r, _ := notify.Retryable(err); err != nil && r {
			return "", err
		}
		if ok {
			ts = found
			blocks, fb := slack.Digest(items)
			if _, _, err := s.n.UpdateBlocks(ctx, s.channel, ts, blocks, fb); err != nil {
				return "", err
			}
		}
	}
	if ts == "" {
		blocks, fb := slack.Digest(items)
		if ts, err = s.n.PostBlocksKeyed(ctx, s.channel, key, blocks, fb); err != nil {
			return "", err
		}
	}
	// The explanations and every recipient in its thread, once: one reply
	// per part that fits Slack's limits, each under its own key.
	parts, fb := slack.DigestThreadParts(items)
	for i, blocks := range parts {
		tkey := key + ":thread"
		if i > 0 {
			tkey += ":" + strconv.Itoa(i+1)
		}
		posted := false
		if retry {
			_, found, err := s.findReply(ctx, ts, tkey)
			if err != nil {
				return "", err
			}
			posted = found
		}
		if !posted {
			if _, err := s.n.ReplyKeyed(ctx, s.channel, ts, tkey, fb, blocks); err != nil {
				return "", err
			}
		}
	}
	// Recorded once both are shown: the other items' rows then find it.
	if err := s.db.SetDigestRef(context.WithoutCancel(ctx), p.Items, s.channel, ts, s.now()); err != nil {
		return "", err
	}
	return ts, nil
}

// maxDigest is how many items one digest message gathers at most: every
// recipient-side item of a batch (a bounce names at most 1,000 recipients),
// so that one huge bounce gives one top-level post, not one per 40. The
// post shows the first few of each group; its thread lists them all.
const maxDigest = 5000

// editDigest renders the digest at ts again from its items' current state.
func (s *slackSender) editDigest(ctx context.Context, ts string) (string, error) {
	ids, err := s.db.DigestItems(ctx, s.channel, ts)
	if err != nil {
		return "", err
	}
	items, err := s.items(ctx, ids)
	if err != nil {
		return "", err
	}
	blocks, fb := slack.Digest(items)
	newTS, outcome, err := s.n.UpdateBlocks(ctx, s.channel, ts, blocks, fb)
	if err != nil {
		return "", err
	}
	if outcome == slack.Reposted && newTS != "" {
		_ = s.db.SetDigestRef(context.WithoutCancel(ctx), ids, s.channel, newTS, s.now())
	}
	return newTS, nil
}

// items are the notices of the given recipient-side items.
func (s *slackSender) items(ctx context.Context, ids []int64) ([]notify.Notice, error) {
	return recipientItems(ctx, s.db, ids, s.advice...)
}

// recipientItems are the current notices of the given recipient-side items.
func recipientItems(ctx context.Context, db *store.DB, ids []int64, opts ...advice.Option) ([]notify.Notice, error) {
	dets, err := db.IncidentDetails(ctx, ids, 20)
	if err != nil {
		return nil, err
	}
	out := make([]notify.Notice, 0, len(dets))
	for _, det := range dets {
		out = append(out, notice(det, store.KindFirst, advice.Japanese, maxListed, opts...))
	}
	return out, nil
}

// update edits the incident's message at ts to show n.
func (s *slackSender) update(ctx context.Context, det *store.Detail, ts string, n notify.Notice) (string, error) {
	newTS, outcome, err := s.n.Update(ctx, s.channel, ts, n)
	if err != nil {
		return "", err
	}
	if outcome == slack.Reposted && newTS != "" {
		if err := s.db.SetSlackRef(context.WithoutCancel(ctx), det.ID, s.channel, newTS, s.now()); err != nil {
			return "", fmt.Errorf("slack message %s posted anew but not recorded: %w", newTS, err)
		}
	}
	return newTS, nil
}

// answer carries out what a person asked in Slack and replies in the thread.
func (s *slackSender) answer(ctx context.Context, it store.OutboxItem, det *store.Detail) (string, error) {
	var p slackPayload
	if err := json.Unmarshal(it.Payload, &p); err != nil {
		return "", notify.Permanent(err)
	}
	note := commandNote(det, p.Command, p.Until, false)
	if p.User != "" && note != "" {
		note = fmt.Sprintf("<@%s> %s", slack.Escape(p.User), note)
	}
	key := it.IdempotencyKey()
	if it.Attempts > 1 {
		// An earlier attempt may have posted and lost Slack's answer.
		if ts, ok, err := s.findReply(ctx, p.ThreadTS, key); err != nil || ok {
			return ts, err
		}
	}
	if p.Digest {
		return s.digestAnswer(ctx, key, p)
	}
	if p.Command == cmdMute || p.Command == cmdResolve {
		return s.n.ReplyKeyed(ctx, s.channel, p.ThreadTS, key, note, nil)
	}
	blocks, fallback := slack.Blocks(detailWithChecks(ctx, s.checks, det, advice.Japanese, ""))
	return s.n.ReplyKeyed(ctx, s.channel, p.ThreadTS, key, fallback, blocks)
}

// digestAnswer answers a reply in a digest's thread with the details of
// every item the digest shows (each bounce with the receiver's words), in
// one reply. A digest has no mute or resolve: it never posts again, its
// message is edited when an item changes; a person asking for either is
// told so.
func (s *slackSender) digestAnswer(ctx context.Context, key string, p slackPayload) (string, error) {
	ids, err := s.db.DigestItems(ctx, s.channel, p.ThreadTS)
	if err != nil {
		return "", err
	}
	ms, err := digestMembers(ctx, s.db, ids)
	if err != nil {
		return "", err
	}
	note := ""
	if p.Asked == cmdMute || p.Asked == cmdResolve {
		note = digestNoCommand
	}
	if p.User != "" {
		note = strings.TrimSpace(fmt.Sprintf("<@%s> %s", slack.Escape(p.User), note))
	}
	// The title says what follows: the text's own heading (この件の…) is left out.
	_, text, _ := strings.Cut(advice.DetailText(ms, nil, advice.Japanese, notify.JST()), "\n")
	blocks, fb := slack.DigestDetail(note, notify.PlainLinks(text))
	return s.n.ReplyKeyed(ctx, s.channel, p.ThreadTS, key, fb, blocks)
}

// digestNoCommand answers 「停止」 or 「解決」 in a digest's thread.
const digestNoCommand = "この一覧には「停止」「解決」はありません。宛先ごとのエラーは新しい投稿を増やさず、" +
	"状況が変わるとこの一覧の投稿が書き換わります。各宛先の詳細は以下のとおりです。"

// emailSender mails the summary to the original senders of the bounced
// mail, or to fixed addresses.
type emailSender struct {
	checks  checksFunc
	allowed func(addr string) bool // may receive summaries (BOUNCEWATCH_REPLY_ALLOW)
	db      *store.DB
	key     []byte
	cfg     Config
	s       *email.Sender
	now     func() time.Time
}

func (s *emailSender) send(ctx context.Context, it store.OutboxItem, det *store.Detail) (string, error) {
	switch it.Kind {
	case store.KindResolved, store.KindMuted:
		// A mail saying "it stopped" or "muted" is noise in an inbox; Slack shows it.
		return "skipped", nil
	case store.KindReply:
		return s.answer(ctx, it, det)
	}
	to := s.recipients(det)
	if len(to) == 0 {
		return "", notify.Permanent(errors.New("no one to mail: the bounce names no original sender of ours and BOUNCEWATCH_EMAIL_TO is empty"))
	}
	if det.Key.Side == incident.SideRecipient {
		switch it.Kind {
		case store.KindFirst:
			return s.digest(ctx, it, det, to)
		case store.KindRepeat:
			// A digest has no reminder (nor has it in Slack): nothing changed.
			return "skipped", nil
		}
		// KindUpdate: the item changed (a delay that failed, another
		// bounce): its own mail, below, tells how it stands now.
	}
	n := notice(det, it.Kind, advice.Japanese, maxListed, s.cfg.AdviceOptions()...)
	s.checks(ctx, det, &n)
	// One mail per recipient: a refused address does not block the others,
	// and each gets its own token. Each mail accepted is recorded on the row
	// before the next is tried, so a retry (also after a crash) mails only
	// those not yet recorded; see the README on the window that remains.
	done := map[string]bool{}
	for _, p := range it.Parts {
		done[p] = true
	}
	var refs []string
	var deferred, refused error // the first temporary and the first permanent failure
	for _, addr := range to {
		if id := s.messageID(it, det.ID, addr); done[id] {
			refs = append(refs, id)
			continue
		}
		if ctx.Err() != nil {
			return "", notify.Temporary(ctx.Err(), 0)
		}
		var thread email.Addressing
		if det.Key.Side == incident.SideRecipient {
			// An item's own mail (it changed) follows the digest that showed it.
			d, ok, err := s.db.EmailDigestRef(ctx, det.ID, addr)
			if err != nil {
				return "", err
			}
			if ok && d != "" {
				thread.InReplyTo, thread.References = d, []string{d}
			}
		}
		ref, err := s.mail(ctx, it, det.ID, addr, func(a email.Addressing) ([]byte, error) { return email.Compose(n, a) }, thread)
		if err != nil {
			// Go on with the others: the row is retried for a temporary
			// failure (those mailed are skipped then), abandoned for a
			// permanent one once everyone else was mailed.
			if retry, _ := notify.Retryable(err); retry {
				deferred = cmp.Or(deferred, err)
			} else {
				refused = cmp.Or(refused, err)
			}
			continue
		}
		if err := s.db.MarkPart(context.WithoutCancel(ctx), it.ID, ref); err != nil {
			return "", fmt.Errorf("mail to one recipient sent but not recorded (a retry mails them again): %w", err)
		}
		refs = append(refs, ref)
	}
	if err := cmp.Or(deferred, refused); err != nil {
		return "", err
	}
	return strings.Join(refs, " "), nil
}

// digest mails a recipient-side item to each of its addressees in a digest
// mail shared with the other items waiting for their first notice that go
// to the same person. Each digest is recorded per item and addressee right
// after the server accepted it (store.SetEmailDigest): the other items'
// rows then find it and mail nothing, and a retry after a crash mails only
// the addressees not yet recorded (the window that remains is the one of
// every mail, see the README).
func (s *emailSender) digest(ctx context.Context, it store.OutboxItem, det *store.Detail, to []string) (string, error) {
	var refs []string
	var deferred, refused error // the first temporary and the first permanent failure
	for _, addr := range to {
		ref, ok, err := s.db.EmailDigestRef(ctx, det.ID, addr)
		if err != nil {
			return "", err
		}
		if ok {
			if ref == "" {
				refused = cmp.Or(refused, notify.Permanent(fmt.Errorf("the digest mail to %s was refused", addr)))
			} else {
				refs = append(refs, ref)
			}
			continue
		}
		if ctx.Err() != nil {
			return "", notify.Temporary(ctx.Err(), 0)
		}
		ref, err = s.mailDigest(ctx, it, det, addr)
		if err != nil {
			if retry, _ := notify.Retryable(err); retry {
				deferred = cmp.Or(deferred, err)
			} else {
				refused = cmp.Or(refused, err)
			}
			continue
		}
		refs = append(refs, ref)
	}
	if err := cmp.Or(deferred, refused); err != nil {
		return "", err
	}
	return strings.Join(refs, " "), nil
}

// mailDigest mails addr one digest of the pending items that go to addr
// (det among them) and records it for each of them.
func (s *emailSender) mailDigest(ctx context.Context, it store.OutboxItem, det *store.Detail, addr string) (string, error) {
	pending, err := s.db.PendingEmailItems(ctx, addr, 2*maxDigest)
	if err != nil {
		return "", err
	}
	ids := []int64{det.ID}
	firstRow := it.ID
	var others []int64
	rows := map[int64]int64{}
	for _, p := range pending {
		if p.Incident == det.ID {
			firstRow = min(firstRow, p.Row)
			continue
		}
		if _, ok := rows[p.Incident]; !ok {
			others = append(others, p.Incident)
			rows[p.Incident] = p.Row
		}
		rows[p.Incident] = min(rows[p.Incident], p.Row)
	}
	// Read together: one bounce's report is decoded once for all its items.
	dets, err := s.db.IncidentDetails(ctx, others, 200)
	if err != nil {
		return "", err
	}
	for _, other := range dets {
		if len(ids) >= maxDigest {
			break
		}
		if !slices.ContainsFunc(s.recipients(other), func(a string) bool { return strings.EqualFold(a, addr) }) {
			continue
		}
		ids = append(ids, other.ID)
		firstRow = min(firstRow, rows[other.ID])
	}
	slices.Sort(ids)
	items, err := recipientItems(ctx, s.db, ids, s.cfg.AdviceOptions()...)
	if err != nil {
		return "", err
	}
	// The Message-ID stands on the lowest row of the items and the address:
	// the same whichever item's row mails it. Its token names the first
	// item; the reply handler finds the others by the token.
	token := email.MakeToken(s.key, ids[0], "d"+nonceFor(firstRow, addr))
	msgID := email.MessageID(token, email.Domain(s.cfg.SMTPFrom))
	data, err := email.ComposeDigest(items, email.Addressing{From: s.cfg.SMTPFrom, To: []string{addr}, ReplyTo: s.cfg.IMAPUsername,
		MessageID: msgID, Date: s.now()})
	if err != nil {
		return "", notify.Permanent(err)
	}
	if err := s.db.PutToken(ctx, token, ids[0], s.now()); err != nil {
		return "", err
	}
	if err := s.s.Send(ctx, email.Message{To: []string{addr}, Data: data}); err != nil {
		if retry, _ := notify.Retryable(err); !retry {
			// Refused for good: the other items' rows need not try again.
			if rerr := s.db.SetEmailDigest(context.WithoutCancel(ctx), ids, addr, "", "", s.now()); rerr != nil {
				return "", fmt.Errorf("%w (and recording the refusal: %w)", err, rerr)
			}
		}
		return "", err
	}
	if err := s.db.SetEmailDigest(context.WithoutCancel(ctx), ids, addr, msgID, token, s.now()); err != nil {
		return "", fmt.Errorf("digest mail to one recipient sent but not recorded (a retry mails them again): %w", err)
	}
	return msgID, nil
}

// messageID is the Message-ID of the mail of row it to one address: the
// same on every attempt.
func (s *emailSender) messageID(it store.OutboxItem, incidentID int64, to string) string {
	return email.MessageID(email.MakeToken(s.key, incidentID, nonceFor(it.ID, to)), email.Domain(s.cfg.SMTPFrom))
}

// mail sends one composed mail to one address, once per outbox row: the
// Message-ID is derived from the row and the address, so a retry after a
// crash produces the same Message-ID and the token it carries stays valid.
func (s *emailSender) mail(ctx context.Context, it store.OutboxItem, incidentID int64, to string,
	compose func(email.Addressing) ([]byte, error), a email.Addressing) (string, error) {
	nonce := nonceFor(it.ID, to)
	token := email.MakeToken(s.key, incidentID, nonce)
	msgID := email.MessageID(token, email.Domain(s.cfg.SMTPFrom))
	a.From, a.To, a.ReplyTo, a.MessageID, a.Date = s.cfg.SMTPFrom, []string{to}, s.cfg.IMAPUsername, msgID, s.now()
	data, err := compose(a)
	if err != nil {
		return "", notify.Permanent(err)
	}
	if err := s.db.PutToken(ctx, token, incidentID, s.now()); err != nil {
		return "", err
	}
	if err := s.s.Send(ctx, email.Message{To: []string{to}, Data: data}); err != nil {
		return "", err
	}
	return msgID, nil
}

// nonceFor is a nonce stable for one outbox row and one address.
func nonceFor(rowID int64, to string) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d\x00%s", rowID, strings.ToLower(to))
	return strconv.FormatInt(rowID, 36) + "x" + strconv.FormatUint(h.Sum64(), 36)
}

// answer carries out a reply's command and mails the detail back in its thread.
func (s *emailSender) answer(ctx context.Context, it store.OutboxItem, det *store.Detail) (string, error) {
	var p replyPayload
	if err := json.Unmarshal(it.Payload, &p); err != nil {
		return "", notify.Permanent(err)
	}
	if p.DigestToken != "" {
		return s.digestAnswer(ctx, it, p)
	}
	note := commandNote(det, p.Command, p.MuteUntil, p.Refused)
	var atts []email.Attachment
	if p.Command == cmdRaw {
		var err error
		if atts, note, err = s.rawAttachments(ctx, det.ID, p.From); err != nil {
			return "", err
		}
	}
	n := detailWithChecks(ctx, s.checks, det, advice.Japanese, note)
	subject := strings.TrimSpace(p.Subject)
	if subject != "" && !strings.HasPrefix(strings.ToLower(subject), "re:") {
		subject = "Re: " + subject
	}
	refs := append(append([]string(nil), p.References...), p.MessageID)
	return s.mail(ctx, it, det.ID, p.From, func(a email.Addressing) ([]byte, error) { return email.ComposeDetail(n, a, atts) },
		email.Addressing{InReplyTo: p.MessageID, References: refs, Subject: subject})
}

// digestAnswer answers a reply to a digest mail with the details of every
// item the digest showed (each bounce with the receiver's words), in one
// mail; 原文 attaches the requester's own bounces of those items. A digest
// has no 停止 or 解決 (it is never mailed again; a changed item gets a mail
// of its own): a person asking for either is told so.
func (s *emailSender) digestAnswer(ctx context.Context, it store.OutboxItem, p replyPayload) (string, error) {
	ids, err := s.db.EmailDigestItems(ctx, p.DigestToken)
	if err != nil {
		return "", err
	}
	if len(ids) == 0 {
		return "", notify.Permanent(errors.New("the digest of a reply is no longer known"))
	}
	ms, err := digestMembers(ctx, s.db, ids)
	if err != nil {
		return "", err
	}
	note := ""
	if changesState(p.Asked) {
		note = emailDigestNoCommand
	}
	var atts []email.Attachment
	if p.Asked == cmdRaw {
		var rawNote string
		if atts, rawNote, err = s.rawAttachmentsOf(ctx, ids, p.From); err != nil {
			return "", err
		}
		note = strings.TrimSpace(note + rawNote)
	}
	// The title says what follows: the text's own heading (この件の…) is left out.
	_, text, _ := strings.Cut(advice.DetailText(ms, nil, advice.Japanese, notify.JST()), "\n")
	subject := strings.TrimSpace(p.Subject)
	if subject != "" && !strings.HasPrefix(strings.ToLower(subject), "re:") {
		subject = "Re: " + subject
	}
	refs := append(append([]string(nil), p.References...), p.MessageID)
	return s.mail(ctx, it, it.IncidentID, p.From, func(a email.Addressing) ([]byte, error) {
		return email.ComposeDigestDetail(note, text, a, atts)
	}, email.Addressing{InReplyTo: p.MessageID, References: refs, Subject: subject})
}

// emailDigestNoCommand answers 「停止」 or 「解決」 in a reply to a digest mail.
const emailDigestNoCommand = "まとめてお知らせしたメールには「停止」「解決」はお使いいただけません。宛先ごとのエラーは、" +
	"状況が変わったとき(再送中だったメールが届かなかったときなど)にだけ、その宛先について改めてお知らせします。" +
	"各宛先の詳細は以下のとおりです。"

// Caps of a 原文 answer.
const (
	rawMaxCount = 5
	rawMaxBytes = 1 << 20
)

// rawAttachments are the stored bounces of an incident's mail that the
// requester sent (never a colleague's returned mail), within the caps, and
// the sentence that says what was attached and what was left out.
func (s *emailSender) rawAttachments(ctx context.Context, incidentID int64, requester string) ([]email.Attachment, string, error) {
	return s.rawAttachmentsOf(ctx, []int64{incidentID}, requester)
}

// rawAttachmentsOf is rawAttachments over several items (a digest's),
// within the same caps in all.
func (s *emailSender) rawAttachmentsOf(ctx context.Context, ids []int64, requester string) ([]email.Attachment, string, error) {
	me := email.NormalAddress(requester)
	var sel store.RawSelection
	var size int64
	for _, id := range ids {
		one, err := s.db.RawBouncesOf(ctx, id, func(from string) bool { return me != "" && email.NormalAddress(from) == me },
			rawMaxCount-len(sel.Messages), rawMaxBytes-size)
		if err != nil {
			return nil, "", err
		}
		sel.OverCap += one.OverCap
		sel.Others += one.Others
		for _, m := range one.Messages {
			if !slices.ContainsFunc(sel.Messages, func(o store.RawMessage) bool { return o.ReportID == m.ReportID }) {
				// One bounce may name several items' recipients: attached once.
				sel.Messages = append(sel.Messages, m)
				size += int64(len(m.Data))
			}
		}
	}
	var atts []email.Attachment
	for i, r := range sel.Messages {
		atts = append(atts, email.Attachment{Filename: fmt.Sprintf("bounce-%d.eml", i+1), Data: r.Data})
	}
	note := fmt.Sprintf("あなたが送ったメールのエラーメール %d 通を添付しました。", len(atts))
	if len(atts) == 0 {
		note = "あなたが送ったメールのエラーメールは、この件にはありません。"
	}
	if sel.OverCap > 0 {
		note += fmt.Sprintf("ほか %d 通は、一度に送る上限(%d 通・1MB)を超えるため添付していません。", sel.OverCap, rawMaxCount)
	}
	if sel.Others > 0 {
		note += fmt.Sprintf("ほかの方が送ったメールのエラーメール %d 通は、その方の内容を含むため添付していません(要約は以下に含みます)。", sel.Others)
	}
	return atts, note, nil
}

// recipients are the people who act on an incident: the original senders
// of its bounced mail, or the fixed BOUNCEWATCH_EMAIL_TO addresses. When the
// mail was sent from the watched mailbox itself or from SMTP_FROM (staff
// sending as info@), the summary goes there: that is where the office reads
// it. Mail systems and no-reply addresses are never mailed, nor is anyone
// about the bounce of one of our own summaries.
func (s *emailSender) recipients(det *store.Detail) []string {
	own := []string{s.cfg.SMTPFrom, s.cfg.IMAPUsername}
	var out []string
	seen := map[string]bool{}
	add := func(addr string) {
		addr = strings.TrimSpace(addr)
		if bare, err := mail.ParseAddress(addr); err == nil {
			addr = bare.Address
		}
		k := strings.ToLower(addr)
		if addr == "" || seen[k] || email.Suppress(addr) {
			return
		}
		seen[k] = true
		out = append(out, addr)
	}
	if s.cfg.EmailTo != "" {
		for _, a := range strings.Split(s.cfg.EmailTo, ",") {
			if !email.Suppress(a, own...) {
				add(a)
			}
		}
		return out
	}
	for _, m := range det.Members {
		if m.Report == nil || len(out) >= 10 || email.IsSummaryID(m.Report.Original.MessageID) {
			continue
		}
		from := strings.TrimSpace(m.Report.Original.From)
		if a, err := mail.ParseAddress(from); err == nil {
			from = a.Address
		}
		switch {
		case from == "":
		case email.Suppress(from, own...):
			// Suppressed as one of ours: the watched mailbox or SMTP_FROM
			// sent the mail; the summary goes to that address.
			if !email.Suppress(from) {
				add(from)
			}
		case s.allowed == nil || s.allowed(from):
			// Only our own people: a bounce of a forged message
			// (backscatter) names a stranger as the sender, who must not
			// get mail from us.
			add(from)
		}
	}
	return out
}

// Notices returns the current notice of every open incident, oldest first:
// what the notifiers would show now (the demo renders them), with the sender
// checks' findings where a notice carries them.
func (a *App) Notices(ctx context.Context) ([]notify.Notice, error) {
	incs, err := a.db.OpenIncidents(ctx)
	if err != nil {
		return nil, err
	}
	var out []notify.Notice
	for _, inc := range incs {
		det, err := a.db.IncidentDetail(ctx, inc.ID, 50)
		if err != nil {
			return nil, err
		}
		n := notice(det, store.KindFirst, advice.Japanese, maxListed, a.cfg.AdviceOptions()...)
		a.withChecks(ctx, det, &n)
		out = append(out, n)
	}
	return out, nil
}

// digestMembers is the bounces of a digest's items, for a detail answer.
func digestMembers(ctx context.Context, db *store.DB, ids []int64) ([]advice.DetailMember, error) {
	var ms []advice.DetailMember
	for _, id := range ids {
		det, err := db.IncidentDetail(ctx, id, 20)
		if err != nil {
			return nil, err
		}
		for _, m := range det.Members {
			ms = append(ms, advice.DetailMember{At: m.At, Report: m.Report, Recipient: m.Recipient})
		}
	}
	return ms, nil
}
