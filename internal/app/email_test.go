package app_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-smtp"

	"github.com/bouncewatch/bouncewatch/internal/app"
	"github.com/bouncewatch/bouncewatch/internal/imapwatch/dovecottest"
)

// smtpBox is an in-process SMTP server (go-smtp) that records every mail.
type smtpBox struct {
	addr string
	mu   sync.Mutex
	msgs []smtpMsg
	// failData is how many more DATA commands are refused with 451.
	failData int
	// failRcpt is, per address, how many more RCPT TO are refused with 451.
	failRcpt map[string]int
}

type smtpMsg struct {
	From string
	To   []string
	Data []byte
}

func startSMTP(t *testing.T) *smtpBox {
	t.Helper()
	b := &smtpBox{}
	srv := smtp.NewServer(b)
	srv.Domain = "mx.example.jp"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.addr = l.Addr().String()
	var closing atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(l); err != nil && !closing.Load() && !errors.Is(err, smtp.ErrServerClosed) {
			t.Errorf("smtp server: %v", err)
		}
	}()
	t.Cleanup(func() {
		closing.Store(true)
		l.Close()
		srv.Close()
		<-done
	})
	return b
}

func (b *smtpBox) NewSession(*smtp.Conn) (smtp.Session, error) { return &smtpSession{b: b}, nil }

func (b *smtpBox) received() []smtpMsg {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]smtpMsg(nil), b.msgs...)
}

func (b *smtpBox) count() int { return len(b.received()) }

func (b *smtpBox) refuseRcpt(addr string, n int) {
	b.mu.Lock()
	if b.failRcpt == nil {
		b.failRcpt = map[string]int{}
	}
	b.failRcpt[addr] = n
	b.mu.Unlock()
}

func (b *smtpBox) refuseData(n int) {
	b.mu.Lock()
	b.failData = n
	b.mu.Unlock()
}

type smtpSession struct {
	b    *smtpBox
	from string
	to   []string
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *smtpSession) Reset()                                      { s.from, s.to = "", nil }
func (s *smtpSession) Logout() error                               { return nil }

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if s.b.failRcpt[to] > 0 {
		s.b.failRcpt[to]--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 2, 0}, Message: "mailbox busy"}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if s.b.failData > 0 {
		s.b.failData--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	s.b.msgs = append(s.b.msgs, smtpMsg{From: s.from, To: s.to, Data: data})
	return nil
}

// parsedMail is a received mail, decoded.
type parsedMail struct {
	Header      mail.Header
	Subject     string
	Text        string   // the text/plain part
	Attachments []string // file names
	Raw         []byte
}

func parseMail(t *testing.T, raw []byte) parsedMail {
	t.Helper()
	r, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("unreadable mail: %v\n%s", err, raw)
	}
	pm := parsedMail{Header: r.Header, Raw: raw}
	pm.Subject, _ = r.Header.Subject()
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("unreadable part: %v", err)
		}
		switch h := p.Header.(type) {
		case *mail.InlineHeader:
			if ct, _, _ := h.ContentType(); ct == "text/plain" && pm.Text == "" {
				b, _ := io.ReadAll(p.Body)
				pm.Text = string(b)
			}
		case *mail.AttachmentHeader:
			name, _ := h.Filename()
			pm.Attachments = append(pm.Attachments, name)
		}
	}
	return pm
}

func (m parsedMail) messageID(t *testing.T) string {
	id, err := m.Header.MessageID()
	if err != nil || id == "" {
		t.Fatalf("mail without Message-ID: %v", err)
	}
	return id
}

// mailbox is where the test delivers mail for the app to see.
type mailbox func(msg []byte)

const (
	staff   = "staff@example.jp"
	ourFrom = "bw@example.jp"
)

func emailConfig(imapAddr, user, pass, db string, sm *smtpBox) app.Config {
	cfg := testConfig(imapAddr, user, pass, db)
	cfg.HTTPAddr = ""
	cfg.Notify = "email"
	cfg.SMTPAddr = sm.addr
	cfg.SMTPTLS = "none"
	cfg.SMTPFrom = ourFrom
	return cfg
}

// reply is a person's answer to one of our mails.
func reply(from, msgID, inReplyTo, subject, body string, extra ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: office@example.jp\r\nSubject: %s\r\nDate: Wed, 15 May 2024 09:00:00 +0900\r\n", from, mimeWord(subject))
	fmt.Fprintf(&b, "Message-ID: <%s>\r\n", msgID)
	if inReplyTo != "" {
		fmt.Fprintf(&b, "In-Reply-To: <%s>\r\nReferences: <%s>\r\n", inReplyTo, inReplyTo)
	}
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	b.WriteString(body + "\r\n\r\n> 以下のエラーメールが届きました。\r\n> ■ 何が起きたか\r\n")
	return []byte(b.String())
}

func mimeWord(s string) string { return mime.QEncoding.Encode("utf-8", s) }

// summaryBounce is a DSN for our own summary mail: staff's mailbox refused
// it, and the returned header carries our Message-ID and From.
func summaryBounce(summaryID string) []byte {
	return []byte(strings.ReplaceAll(`Return-Path: <>
Date: Wed, 15 May 2024 09:10:00 +0900
From: Mail Delivery System <MAILER-DAEMON@mx.example.jp>
Subject: Undelivered Mail Returned to Sender
To: bw@example.jp
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BOUND"
Message-Id: <dsn.summary.1@mx.example.jp>

--BOUND
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.jp.

<staff@example.jp>: mailbox is full

--BOUND
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.jp

Final-Recipient: rfc822; staff@example.jp
Action: failed
Status: 5.2.2
Diagnostic-Code: smtp; 552 5.2.2 mailbox full

--BOUND
Content-Type: text/rfc822-headers

From: bw@example.jp
To: staff@example.jp
Subject: =?utf-8?q?=E3=80=90=E9=85=8D=E4=BF=A1=E3=82=A8=E3=83=A9=E3=83=BC=E3=80=91?=
Message-ID: <SUMMARYID>
Auto-Submitted: auto-generated

--BOUND--
`, "SUMMARYID", summaryID))
}

// alterToken changes one hex digit of the MAC in a Message-ID.
func alterToken(id string) string {
	local, domain, _ := strings.Cut(id, "@")
	i := len(local) - 1
	c := byte('0')
	if local[i] == '0' {
		c = '1'
	}
	return local[:i] + string(c) + "@" + domain
}

// waitMails waits until the SMTP server has n mails and returns them.
func waitMails(t *testing.T, sm *smtpBox, n int) []smtpMsg {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d mails", n), func() bool { return sm.count() >= n })
	return sm.received()
}

// detailFlow is issue 6's reply flow against any IMAP server: three
// bounces give one summary, a reply 「詳細」 gets the detail. seen is the
// number of messages in the mailbox before; it returns the number after.
func detailFlow(t *testing.T, r *running, sm *smtpBox, deliver mailbox, seen int64) (summary parsedMail, seenAfter int64) {
	t.Helper()
	rcpts := []string{"a.example@outlook.jp", "b.example@outlook.jp", "c.example@outlook.jp"}
	for _, rc := range rcpts {
		deliver(outlookBounce(t, rc, staff))
	}
	seen += 3
	r.waitSeen(t, seen)
	msgs := waitMails(t, sm, 1)
	if len(msgs) != 1 {
		t.Fatalf("%d mails for three bounces of one incident, want 1", len(msgs))
	}
	if len(msgs[0].To) != 1 || msgs[0].To[0] != staff {
		t.Fatalf("summary went to %v, want %s (the original sender)", msgs[0].To, staff)
	}
	summary = parseMail(t, msgs[0].Data)
	if !strings.HasPrefix(summary.Subject, "【配信エラー】") {
		t.Errorf("summary subject = %q", summary.Subject)
	}
	if v := summary.Header.Get("Auto-Submitted"); v != "auto-generated" {
		t.Errorf("Auto-Submitted = %q, want auto-generated", v)
	}
	sid := summary.messageID(t)
	if !strings.HasPrefix(sid, "bw.") || !strings.HasSuffix(sid, "@example.jp") {
		t.Errorf("summary Message-ID %q carries no token", sid)
	}
	for _, rc := range rcpts {
		if !strings.Contains(summary.Text, rc) {
			t.Errorf("summary does not name %s", rc)
		}
	}

	// 「詳細」 in a reply: the detail comes back in the thread.
	deliver(reply(staff, "reply.detail@example.jp", sid, "Re: "+summary.Subject, "詳細"))
	seen++
	msgs = waitMails(t, sm, 2)
	if len(msgs[1].To) != 1 || msgs[1].To[0] != staff {
		t.Fatalf("detail went to %v, want %s", msgs[1].To, staff)
	}
	det := parseMail(t, msgs[1].Data)
	if irt, _ := det.Header.MsgIDList("In-Reply-To"); len(irt) != 1 || irt[0] != "reply.detail@example.jp" {
		t.Errorf("detail In-Reply-To = %v, want the reply's Message-ID", irt)
	}
	if refs, _ := det.Header.MsgIDList("References"); len(refs) < 2 || refs[0] != sid {
		t.Errorf("detail References = %v, want the summary then the reply", refs)
	}
	if !strings.HasPrefix(det.Subject, "Re: ") {
		t.Errorf("detail subject = %q, want Re: ...", det.Subject)
	}
	if det.Header.Get("Auto-Submitted") != "auto-generated" {
		t.Errorf("detail mail not marked auto-generated")
	}
	for _, rc := range rcpts {
		if !strings.Contains(det.Text, rc) {
			t.Errorf("detail does not list %s:\n%s", rc, det.Text)
		}
	}
	return summary, seen
}

// Issue 5 (email mode) and issue 6 (replies by mail), end to end with the
// in-process IMAP server and a real SMTP server.
func TestEmailSummaryRepliesAndLoops(t *testing.T) {
	t.Parallel()
	srv, sm, cfg := startEmailApp(t)
	cfg.GroupInterval = 2 * time.Second // a muted incident would otherwise be updated within the test
	cfg.ReplyAuthserv = "mx.example.jp"
	r := runApp(t, cfg)
	deliver := inbox(t, srv)
	summary, seen := detailFlow(t, r, sm, deliver, 0)
	sid := summary.messageID(t)
	incID := int64(0)
	if _, err := fmt.Sscanf(sid, "bw.%d.", &incID); err != nil {
		t.Fatalf("incident of %q: %v", sid, err)
	}

	// nothingFor delivers a message and checks no mail results.
	nothingFor := func(what string, m []byte) {
		t.Helper()
		before := sm.count()
		deliver(m)
		seen++
		r.waitSeen(t, seen)
		if n := sm.count() - before; n != 0 {
			last := parseMail(t, sm.received()[sm.count()-1].Data)
			t.Errorf("%s: %d mails sent, want none (last to %v: %s)", what, n, last.Header.Get("To"), last.Subject)
		}
	}

	// A bounce of our own summary starts no loop (it is recorded as a bounce).
	reports := r.stats(t).Reports
	nothingFor("bounce of the summary", summaryBounce(sid))
	if n := r.stats(t).Reports - reports; n != 1 {
		t.Errorf("the bounce of the summary gave %d reports, want 1 (a bounce)", n)
	}
	// Forged replies get nothing.
	nothingFor("reply from another domain", reply("outsider@evil.example", "forged.1@evil.example", sid, "Re: x", "詳細"))
	nothingFor("altered token", reply(staff, "forged.2@example.jp", alterToken(sid), "Re: x", "詳細"))
	nothingFor("no In-Reply-To", reply(staff, "forged.3@example.jp", "", "Re: "+summary.Subject, "詳細"))
	// A machine's answer gets nothing.
	nothingFor("auto-reply", reply(staff, "auto.1@example.jp", sid, "Automatic reply: "+summary.Subject,
		"I am out of the office until Monday.", "Auto-Submitted: auto-replied"))

	// 「原文」: the detail with the original bounces attached.
	before := sm.count()
	deliver(reply(staff, "reply.raw@example.jp", sid, "Re: "+summary.Subject, "原文をください"))
	seen++
	msgs := waitMails(t, sm, before+1)
	raw := parseMail(t, msgs[before].Data)
	if len(raw.Attachments) != 3 {
		t.Errorf("原文 reply has %d attachments %v, want the 3 bounces", len(raw.Attachments), raw.Attachments)
	}
	for _, a := range raw.Attachments {
		if !strings.HasSuffix(a, ".eml") {
			t.Errorf("attachment %q is not .eml", a)
		}
	}
	if irt, _ := raw.Header.MsgIDList("In-Reply-To"); len(irt) != 1 || irt[0] != "reply.raw@example.jp" {
		t.Errorf("原文 answer In-Reply-To = %v", irt)
	}

	// 「停止」: muted for a day, confirmed, and new bounces of it are quiet.
	before = sm.count()
	now := time.Now()
	deliver(reply(staff, "reply.mute@example.jp", sid, "Re: "+summary.Subject, "停止",
		"Authentication-Results: mx.example.jp; spf=pass smtp.mailfrom=staff@example.jp; dmarc=pass header.from=example.jp"))
	seen++
	msgs = waitMails(t, sm, before+1)
	if conf := parseMail(t, msgs[before].Data); !strings.Contains(conf.Text, "停止しました") {
		t.Errorf("mute confirmation does not say so:\n%s", conf.Text)
	}
	det := r.detail(t, incID)
	if d := det.MutedUntil.Sub(now); d < 23*time.Hour+59*time.Minute || d > 24*time.Hour+time.Minute {
		t.Errorf("muted until %v (%v from now), want about 24h", det.MutedUntil, d)
	}
	r.waitSeen(t, seen)
	before = sm.count()
	deliver(outlookBounce(t, "d.example@outlook.jp", staff))
	deliver(outlookBounce(t, "e.example@outlook.jp", staff))
	seen += 2
	waitFor(t, "the muted incident to grow", func() bool { return r.detail(t, incID).Count == 5 })
	// Were the mute ignored, an update would be due after the group
	// interval and waitSeen would wait for it to be sent.
	r.waitSeen(t, seen)
	if n := sm.count() - before; n != 0 {
		t.Errorf("%d mails about a muted incident, want none", n)
	}
	r.stop()

	// Nothing went to anyone but staff, and nothing to ourselves.
	for _, m := range sm.received() {
		if len(m.To) != 1 || m.To[0] != staff {
			t.Errorf("a mail went to %v", m.To)
		}
	}
}

// A refused submission (451) is retried and the summary delivered once.
func TestEmailSummaryRetriedAfterTemporaryRefusal(t *testing.T) {
	t.Parallel()
	srv, sm, cfg := startEmailApp(t)
	sm.refuseData(2)
	r := runApp(t, cfg)
	srv.Append(outlookBounce(t, "a.example@outlook.jp", staff))
	waitMails(t, sm, 1)
	r.waitSeen(t, 1)
	if n := sm.count(); n != 1 {
		t.Errorf("%d summaries delivered, want 1", n)
	}
	// Its token still answers: a reply gets the detail.
	sid := parseMail(t, sm.received()[0].Data).messageID(t)
	srv.Append(reply(staff, "reply.after.retry@example.jp", sid, "Re: x", "詳細"))
	waitMails(t, sm, 2)
}

// Issue 6 against Dovecot: a reply 「詳細」 to a summary of three bounces gets
// a detail mail listing all three recipients.
func TestDovecotEmailReplyGetsDetail(t *testing.T) {
	t.Parallel()
	srv := dovecottest.Start(t, nil)
	sm := startSMTP(t)
	cfg := emailConfig(srv.Addr, srv.User, srv.Password, filepath.Join(t.TempDir(), "bw.db"), sm)
	// Dovecot tells an IDLE session of new mail after about half a second:
	// wait long enough that the three bounces make one summary.
	cfg.GroupWait = 3 * time.Second
	r := runApp(t, cfg)
	_, seen := detailFlow(t, r, sm, func(m []byte) { srv.Append(t, "INBOX", m) }, 0)
	r.waitSeen(t, seen)
	if n := sm.count(); n != 2 {
		t.Errorf("%d mails, want the summary and the detail", n)
	}
}

// An incident whose bounces were sent by two people mails each of them once,
// even when one address is refused for a while.
func TestEmailEachSenderOnceWhenOneIsRefused(t *testing.T) {
	t.Parallel()
	srv, sm, cfg := startEmailApp(t)
	const boss = "boss@example.jp"
	sm.refuseRcpt(boss, 2)
	srv.Append(outlookBounce(t, "a.example@outlook.jp", staff))
	srv.Append(outlookBounce(t, "b.example@outlook.jp", boss))
	r := runApp(t, cfg)
	r.waitSeen(t, 2)
	waitMails(t, sm, 2)
	got := perAddressee(sm)
	if got[staff] != 1 || got[boss] != 1 || len(got) != 2 {
		t.Errorf("mails per recipient = %v, want one each for %s and %s", got, staff, boss)
	}
}

// A bounce of a forged message (backscatter) names a stranger as the
// original sender: no summary goes to them; our own sender still gets hers.
func TestEmailNoSummaryToStrangers(t *testing.T) {
	t.Parallel()
	srv, sm, cfg := startEmailApp(t)
	srv.Append(outlookBounce(t, "a.example@outlook.jp", "someone@forged.example"))
	srv.Append(outlookBounce(t, "b.example@gmail.com", staff))
	r := runApp(t, cfg)
	r.waitSeen(t, 2)
	waitMails(t, sm, 1)
	for _, m := range sm.received() {
		for _, to := range m.To {
			if to != staff {
				t.Errorf("a summary went to %s", to)
			}
		}
	}
}

// Staff send as the watched mailbox itself (info@): the summary of an address
// problem goes to that mailbox. The summary then arriving in the watched
// mailbox is never triaged, and its own bounce mails nobody (no loop).
func TestEmailToWatchedMailboxWhenItSent(t *testing.T) {
	t.Parallel()
	srv, sm, cfg := startEmailApp(t)
	r := runApp(t, cfg)
	srv.Append(outlookBounce(t, "a.example@outlook.jp", "事務所 <"+srv.User+">"))
	msgs := waitMails(t, sm, 1)
	if len(msgs[0].To) != 1 || msgs[0].To[0] != srv.User {
		t.Fatalf("summary went to %v, want the watched mailbox %s", msgs[0].To, srv.User)
	}
	summary := msgs[0].Data
	sid := parseMail(t, summary).messageID(t)

	// The mail server delivers the summary into the watched mailbox, and a
	// copy of it bounces: neither is summarised.
	srv.Append(summary)
	srv.Append(summaryBounce(sid))
	r.waitSeen(t, 3)
	if n := sm.count(); n != 1 {
		last := parseMail(t, sm.received()[n-1].Data)
		t.Errorf("%d mails, want only the first summary (last to %v: %s)", n, last.Header.Get("To"), last.Subject)
	}
	st := r.stats(t)
	if st.Reports != 2 {
		t.Errorf("%d reports, want 2 (the bounce and the bounce of the summary; the summary itself is no report)", st.Reports)
	}
}
