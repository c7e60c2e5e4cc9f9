package app

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/advice"
	"github.com/bouncewatch/bouncewatch/internal/bounce"
	"github.com/bouncewatch/bouncewatch/internal/incident"
	"github.com/bouncewatch/bouncewatch/internal/notify"
	"github.com/bouncewatch/bouncewatch/internal/store"
)

// Progress reports a backfill's advance: messages recorded of the total.
type Progress func(done, total uint32)

// DigestGroup is one cause in a backfill digest.
type DigestGroup struct {
	Key   incident.Key
	Count int
	Text  string // headline of the group's advice
}

// Digest summarises the bounces a backfill found since a date.
type Digest struct {
	Since    time.Time
	Messages uint32 // messages read from the mailbox
	Bounces  int    // failed or delayed recipients since Since
	Groups   []DigestGroup

	// Unprocessed counts messages that could not be recorded as they are
	// (recorded as not processed, with the reason, and passed over).
	Unprocessed int
}

// Text renders the digest in Japanese, in the shape of the notices:
// problems of our sending server by cause (most bounces first), then the
// recipients' own problems by what is to be done, naming the addresses.
func (d Digest) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "【bouncewatch 取り込み結果】%s 以降のエラーメールをまとめました。\n", d.Since.In(notify.JST()).Format("2006/01/02"))
	fmt.Fprintf(&b, "確認したメール: %d 通 / 配信エラー・配送遅延: %d 件\n", d.Messages, d.Bounces)
	if d.Unprocessed > 0 {
		fmt.Fprintf(&b, "記録できずに読み飛ばしたメール: %d 通（理由はログとデータベースに残しています。情報システム担当にお知らせください）\n", d.Unprocessed)
	}
	if len(d.Groups) == 0 {
		b.WriteString("この期間に配信エラーはありませんでした。\n")
		return b.String()
	}
	var sending []DigestGroup
	byTask := map[string][]string{}
	items := 0
	for _, g := range d.Groups {
		if g.Key.Side != incident.SideRecipient {
			sending = append(sending, g)
			continue
		}
		t := string(incident.TaskOf(g.Key.Cause))
		byTask[t] = append(byTask[t], g.Key.Recipient)
		items++
	}
	if len(sending) > 0 {
		fmt.Fprintf(&b, "\nサーバー側の問題 %d件（原因ごと、件数の多い順）:\n", len(sending))
		for i, g := range sending {
			if i == maxDigestCauses {
				fmt.Fprintf(&b, "ほか %d 件\n", len(sending)-i)
				break
			}
			fmt.Fprintf(&b, "%d. %s\n", i+1, g.Text)
		}
	}
	if items > 0 {
		var tasks []notify.Notice
		for t, addrs := range byTask {
			for range addrs {
				tasks = append(tasks, notify.Notice{Task: t})
			}
		}
		groups, order := notify.ByTask(tasks)
		var heads []string
		for _, t := range order {
			heads = append(heads, fmt.Sprintf("%s %d件", notify.TaskLabel(t), len(groups[t])))
		}
		fmt.Fprintf(&b, "\n宛先ごとの問題 %d件（%s）:\n", items, strings.Join(heads, " / "))
		for _, t := range order {
			addrs := byTask[t]
			sort.Strings(addrs)
			shown := addrs[:min(len(addrs), maxDigestAddrs)]
			line := "・" + notify.TaskLabel(t) + ": " + strings.Join(shown, ", ")
			if k := len(addrs) - len(shown); k > 0 {
				line += fmt.Sprintf(" ほか %d 件", k)
			}
			b.WriteString(line + "\n")
		}
	}
	b.WriteString("\nこれらは記録のみで、個別の通知は送っていません。今後届くエラーから通常どおり通知します。\n")
	return b.String()
}

// How much a backfill digest lists: causes of the sending side, and
// addresses per task of the recipient side.
const (
	maxDigestCauses = 15
	maxDigestAddrs  = 8
)

// Backfill reads the whole mailbox as `run` would, records every message and
// report, but groups nothing into incidents and notifies no one: a first
// start must not flood Slack with weeks of old bounces. It returns a digest
// of the bounces dated since `since` (also posted to Slack, once, when Slack
// is configured). `run` afterwards continues from where the backfill ended.
func (a *App) Backfill(ctx context.Context, since time.Time, progress Progress) (Digest, error) {
	defer a.db.Close()
	d := Digest{Since: since}
	info, err := a.watcher.Probe(ctx)
	if err != nil {
		return d, err
	}
	var mu sync.Mutex
	var reports []*bounce.Report
	a.sink.quietAll = true
	a.sink.onCommit = func(res store.CommitResult, reps []*bounce.Report) {
		mu.Lock()
		reports = append(reports, reps...)
		d.Unprocessed += len(res.Failed)
		mu.Unlock()
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.watcher.Run(ctx) }()

	last := info.UIDNext - 1
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for finished := false; !finished; {
		select {
		case <-ctx.Done():
			<-done
			return d, ctx.Err()
		case err := <-done:
			return d, err
		case <-t.C:
		}
		_, cur, err := a.db.Cursor(ctx, a.cfg.IMAPMailbox)
		if err != nil {
			continue
		}
		st := a.watcher.Status()
		if progress != nil {
			progress(min(uint32(st.MessagesDelivered), info.Messages), info.Messages)
		}
		finished = cur >= last || uint32(st.MessagesDelivered) >= info.Messages
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		return d, err
	}
	d.Messages = uint32(a.watcher.Status().MessagesDelivered)

	type acc struct {
		key   incident.Key
		n     int
		rep   *bounce.Report
		rc    bounce.Recipient
		first time.Time
		last  time.Time
		ms    []advice.Member
	}
	groups := map[string]*acc{}
	for _, rep := range reports {
		if !rep.Date.IsZero() && rep.Date.Before(since) {
			continue
		}
		for _, rc := range rep.Recipients {
			if !rc.Failed() && rc.Action != bounce.ActionDelayed {
				continue
			}
			k := incident.KeyOf(rep, rc)
			g := groups[k.String()]
			if g == nil {
				g = &acc{key: k, first: rep.Date, last: rep.Date}
				groups[k.String()] = g
			}
			g.n++
			// The mailbox is read in arrival order, not by the bounces' dates.
			g.rep, g.rc = rep, rc
			if rep.Date.Before(g.first) {
				g.first = rep.Date
			}
			if rep.Date.After(g.last) {
				g.last = rep.Date
			}
			g.ms = append(g.ms, advice.Member{Address: rc.Address, At: rep.Date, Subject: rep.Original.Subject})
			d.Bounces++
		}
	}
	for _, g := range groups {
		ga := advice.ForGroup(advice.Group{Report: g.rep, Recipient: g.rc, Members: g.ms, Count: g.n,
			First: g.first.In(notify.JST()), Last: g.last.In(notify.JST())}, advice.Japanese, 3)
		d.Groups = append(d.Groups, DigestGroup{Key: g.key, Count: g.n, Text: ga.Headline})
	}
	sort.Slice(d.Groups, func(i, j int) bool {
		if d.Groups[i].Count != d.Groups[j].Count {
			return d.Groups[i].Count > d.Groups[j].Count
		}
		return d.Groups[i].Key.String() < d.Groups[j].Key.String()
	})
	if s, ok := a.senders[store.TargetSlack].(*slackSender); ok {
		if _, err := s.n.Reply(parent, s.channel, "", d.Text(), nil); err != nil {
			return d, fmt.Errorf("posting the digest to Slack: %w", err)
		}
	}
	return d, nil
}
