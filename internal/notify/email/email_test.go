package email

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-smtp"

	"github.com/bouncewatch/bouncewatch/internal/advice"
	"github.com/bouncewatch/bouncewatch/internal/notify"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func sampleNotice() notify.Notice {
	first := time.Date(2026, 11, 27, 0, 5, 0, 0, time.UTC)
	return notify.Notice{
		IncidentID:   42,
		Kind:         notify.KindFirst,
		SendingIP:    "192.0.2.25",
		Provider:     "microsoft",
		ProviderName: "Microsoft(Outlook)",
		Reason:       "送信サーバーのIP評価低下",
		Diagnostic:   "550 5.7.1 <script>alert(1)</script> messages from [192.0.2.25] weren't sent",
		Count:        5,
		First:        first,
		Last:         first.Add(2*time.Hour + 25*time.Minute),
		Advice: advice.GroupAdvice{
			Advice: advice.Advice{
				Headline:    "Microsoftが送信サーバーのIPを拒否しています",
				Explanation: "受信側が送信元IPの評価が低いとして受け取りを拒否しました。",
				Outlook:     "このメールは届きません。",
				Actions: []advice.Action{
					{Actor: advice.ActorHosting, Label: "ホスティング会社", Text: "送信IPの除外申請を依頼してください。"},
				},
				Links: []advice.Link{{Title: "Sender Support", URL: "https://sender.office.com/"}},
			},
			Recipients: []string{"taro@example.com", "hanako@example.net"},
			More:       3,
		},
	}
}

func sampleAddressing(t *testing.T) Addressing {
	t.Helper()
	nonce, err := NewNonce()
	if err != nil {
		t.Fatal(err)
	}
	return Addressing{
		From:      "bouncewatch <bw@example.jp>",
		To:        []string{"boss@example.jp"},
		ReplyTo:   "info@example.jp",
		MessageID: MessageID(MakeToken(testKey, 42, nonce), "example.jp"),
		Date:      time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC),
	}
}

// parts reads a composed mail: its header, and the decoded inline parts
// and attachments by content type.
func parts(t *testing.T, raw []byte) (mail.Header, map[string]string, []mail.AttachmentHeader, [][]byte) {
	t.Helper()
	r, err := mail.CreateReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	inline := map[string]string{}
	var ahs []mail.AttachmentHeader
	var atts [][]byte
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(p.Body)
		if err != nil {
			t.Fatal(err)
		}
		switch h := p.Header.(type) {
		case *mail.InlineHeader:
			ct, params, _ := h.ContentType()
			if params["charset"] != "utf-8" {
				t.Errorf("%s charset = %q", ct, params["charset"])
			}
			inline[ct] = string(body)
		case *mail.AttachmentHeader:
			ahs = append(ahs, *h)
			atts = append(atts, body)
		}
	}
	return r.Header, inline, ahs, atts
}

func TestCompose(t *testing.T) {
	n := sampleNotice()
	a := sampleAddressing(t)
	raw, err := Compose(n, a)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range raw {
		if c >= 0x80 {
			t.Fatalf("byte %d is not 7-bit: the mail is not fully encoded", i)
		}
	}
	h, inline, atts, _ := parts(t, raw)
	subj, err := h.Subject()
	if err != nil {
		t.Fatal(err)
	}
	if want := "【配信エラー】Microsoft(Outlook)宛てのメールが届いていません(5件)"; subj != want {
		t.Errorf("Subject = %q, want %q", subj, want)
	}
	if !strings.HasPrefix(strings.ToLower(h.Header.Get("Subject")), "=?utf-8?") {
		t.Errorf("Subject is not RFC 2047 encoded: %q", h.Header.Get("Subject"))
	}
	for k, want := range map[string]string{
		"Auto-Submitted":           "auto-generated",
		"X-Auto-Response-Suppress": "All",
		"X-Bouncewatch-Incident":   "42",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if h.Has("Precedence") {
		t.Error("Precedence set")
	}
	if rt, _ := h.AddressList("Reply-To"); len(rt) != 1 || rt[0].Address != "info@example.jp" {
		t.Errorf("Reply-To = %v", rt)
	}
	if from, _ := h.AddressList("From"); len(from) != 1 || from[0].Address != "bw@example.jp" || from[0].Name != "bouncewatch" {
		t.Errorf("From = %v", from)
	}
	if ct, _, _ := h.ContentType(); ct != "multipart/alternative" {
		t.Errorf("Content-Type = %q", ct)
	}
	mid, err := h.MessageID()
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := VerifyToken(testKey, mid); !ok || id != 42 {
		t.Errorf("Message-ID %q: VerifyToken = %d, %v", mid, id, ok)
	}
	if d, _ := h.Date(); !d.Equal(a.Date) {
		t.Errorf("Date = %v", d)
	}
	if len(atts) != 0 {
		t.Errorf("%d attachments in a summary", len(atts))
	}

	text := inline["text/plain"]
	for _, want := range []string{
		"【配信エラー】Microsoft(Outlook)宛てのメールが届いていません(5件)",
		"受信側が送信元IPの評価が低いとして受け取りを拒否しました。",
		"送信元IP: 192.0.2.25", "期間: 2026/11/27 09:05〜11:30",
		"・taro@example.com", "ほか 3 件", "1. ［ホスティング会社］送信IPの除外申請",
		"https://sender.office.com/", "通知 #42", "返信すると",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text part lacks %q:\n%s", want, text)
		}
	}
	html := inline["text/html"]
	if strings.Contains(html, "<script>") || !strings.Contains(html, "&lt;script&gt;") {
		t.Errorf("HTML part does not escape the diagnostic")
	}
	if !strings.Contains(html, "hanako@example.net") || !strings.Contains(html, `href="https://sender.office.com/"`) {
		t.Errorf("HTML part lacks recipients or links")
	}
}

func TestComposeRejects(t *testing.T) {
	n := sampleNotice()
	for name, mut := range map[string]func(*Addressing){
		"no recipients":   func(a *Addressing) { a.To = nil },
		"bad To":          func(a *Addressing) { a.To = []string{"not an address"} },
		"bad From":        func(a *Addressing) { a.From = "" },
		"no Message-ID":   func(a *Addressing) { a.MessageID = "" },
		"header injected": func(a *Addressing) { a.MessageID = "x@y>\r\nBcc: evil@example.com" },
		"no Date":         func(a *Addressing) { a.Date = time.Time{} },
	} {
		a := sampleAddressing(t)
		mut(&a)
		if _, err := Compose(n, a); err == nil {
			t.Errorf("%s: Compose succeeded", name)
		}
	}
	a := sampleAddressing(t)
	a.Subject = "件名\r\nBcc: evil@example.com"
	raw, err := Compose(n, a)
	if err != nil {
		t.Fatal(err)
	}
	if h, _, _, _ := parts(t, raw); h.Has("Bcc") {
		t.Error("a line break in the subject injected a header")
	}
}

func TestComposeDetail(t *testing.T) {
	n := sampleNotice()
	n.Diagnostic = strings.Repeat("x", 20000)
	n.Advice.Recipients = nil
	for i := range 300 {
		n.Advice.Recipients = append(n.Advice.Recipients, fmt.Sprintf("user%03d@example.com", i))
	}
	n.Advice.More = 0
	a := sampleAddressing(t)
	a.InReplyTo = "CAF=user.reply@mail.example.jp"
	a.References = []string{a.MessageID, a.InReplyTo}
	a.Subject = "Re: " + Subject(sampleNotice())
	plainEML := []byte("From: MAILER-DAEMON@mail.example.net\nSubject: Undelivered Mail\n\nbody line\n")
	binEML := []byte("Subject: =?utf-8?b?5pel5pys?=\r\n\r\n\xe6\x97\xa5\xe6\x9c\xac\x00\r\n")
	raw, err := ComposeDetail(n, a, []Attachment{{Filename: "bounce-1.eml", Data: plainEML}, {Data: binEML}})
	if err != nil {
		t.Fatal(err)
	}
	h, inline, ahs, atts := parts(t, raw)
	if ct, _, _ := h.ContentType(); ct != "multipart/mixed" {
		t.Errorf("Content-Type = %q", ct)
	}
	if got, _ := h.MsgIDList("In-Reply-To"); len(got) != 1 || got[0] != a.InReplyTo {
		t.Errorf("In-Reply-To = %v", got)
	}
	if got, _ := h.MsgIDList("References"); len(got) != 2 || got[0] != a.MessageID {
		t.Errorf("References = %v", got)
	}
	if s, _ := h.Subject(); s != a.Subject {
		t.Errorf("Subject = %q", s)
	}
	text := inline["text/plain"]
	if !strings.Contains(text, "user199@example.com") || strings.Contains(text, "user200@example.com") || !strings.Contains(text, "ほか 100 件") {
		t.Error("detail should list 200 recipients and count the rest")
	}
	if !strings.Contains(text, strings.Repeat("x", 7000)) || strings.Contains(text, strings.Repeat("x", 8000)) {
		t.Error("detail diagnostic is not cut to about 8,000 characters")
	}
	if len(atts) != 2 {
		t.Fatalf("%d attachments, want 2", len(atts))
	}
	if ct, _, _ := ahs[0].ContentType(); ct != "message/rfc822" {
		t.Errorf("7-bit attachment type = %q", ct)
	}
	if want := strings.ReplaceAll(string(plainEML), "\n", "\r\n"); string(atts[0]) != want {
		t.Errorf("7-bit attachment = %q, want %q", atts[0], want)
	}
	if ct, _, _ := ahs[1].ContentType(); ct != "application/octet-stream" {
		t.Errorf("binary attachment type = %q", ct)
	}
	if name, _ := ahs[1].Filename(); !strings.HasSuffix(name, ".eml") {
		t.Errorf("binary attachment name = %q", name)
	}
	if !bytes.Equal(atts[1], binEML) {
		t.Error("binary attachment did not survive")
	}
}

func TestTokens(t *testing.T) {
	tok := MakeToken(testKey, 42, "abc123")
	if id, ok := VerifyToken(testKey, tok); !ok || id != 42 {
		t.Fatalf("VerifyToken(%q) = %d, %v", tok, id, ok)
	}
	for _, s := range []string{"<" + tok + "@example.jp>", tok + "@example.jp", strings.ToUpper(tok)} {
		if id, ok := VerifyToken(testKey, s); !ok || id != 42 {
			t.Errorf("VerifyToken(%q) = %d, %v", s, id, ok)
		}
	}
	parts := strings.Split(tok, ".")
	flip := func(s string) string {
		b := []byte(s)
		if b[0] == 'a' {
			b[0] = 'b'
		} else {
			b[0] = 'a'
		}
		return string(b)
	}
	forged := map[string]string{
		"other incident": "bw.43." + parts[2] + "." + parts[3],
		"leading zero":   "bw.042." + parts[2] + "." + parts[3],
		"other nonce":    "bw.42.abc124." + parts[3],
		"altered mac":    "bw.42." + parts[2] + "." + flip(parts[3]),
		"short mac":      "bw.42." + parts[2] + "." + parts[3][:10],
		"no mac":         "bw.42." + parts[2],
		"other prefix":   "xx.42." + parts[2] + "." + parts[3],
		"negative":       "bw.-1." + parts[2] + "." + parts[3],
		"empty":          "",
		"garbage":        "CAF=random@mail.example.com",
	}
	for name, s := range forged {
		if id, ok := VerifyToken(testKey, s); ok {
			t.Errorf("%s: %q verified as incident %d", name, s, id)
		}
	}
	if _, ok := VerifyToken([]byte("another key of 32 bytes........."), tok); ok {
		t.Error("token verified under another key")
	}
	if _, ok := VerifyToken(nil, MakeToken(nil, 42, "abc")); ok {
		t.Error("token verified under an empty key")
	}
	n1, _ := NewNonce()
	n2, _ := NewNonce()
	if n1 == n2 || len(n1) != 16 || cleanNonce(n1) != n1 {
		t.Errorf("nonces %q %q", n1, n2)
	}
}

func TestFindToken(t *testing.T) {
	tok := MakeToken(testKey, 7, "n0nce")
	var h mail.Header
	h.Set("In-Reply-To", "<CAF=abc@mail.example.com>")
	h.Set("References", "<first@example.com>\r\n <"+tok+"@example.jp> <CAF=abc@mail.example.com>")
	if id, ok := FindToken(testKey, h); !ok || id != 7 {
		t.Errorf("FindToken = %d, %v; want 7", id, ok)
	}
	h.Set("References", "<bw.7.n0nce.000000000000000000000000@example.jp>")
	if id, ok := FindToken(testKey, h); ok {
		t.Errorf("FindToken found forged incident %d", id)
	}
	var empty mail.Header
	if _, ok := FindToken(testKey, empty); ok {
		t.Error("FindToken found a token in no header")
	}
}

func TestSuppress(t *testing.T) {
	own := []string{"bouncewatch <bw@example.jp>", "info@example.jp"}
	for addr, want := range map[string]bool{
		"boss@example.jp":                            false,
		"Taro Yamada <taro@example.com>":             false,
		"bounce-ok-user@example.com":                 true,
		"MAILER-DAEMON@mail.example.net":             true,
		"Mail Delivery System <mailer-daemon@x.org>": true,
		"postmaster@example.com":                     true,
		"no-reply@example.com":                       true,
		"noreply+abc@example.com":                    true,
		"do_not_reply@example.com":                   true,
		"DoNotReply@example.com":                     true,
		"bounces+123-abc@example.com":                true,
		"bw@example.jp":                              true,
		"INFO@example.jp":                            true,
		"":                                           true,
		"not an address":                             true,
		"user@":                                      true,
	} {
		if got := Suppress(addr, own...); got != want {
			t.Errorf("Suppress(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestAutoGenerated(t *testing.T) {
	hdr := func(kv ...string) mail.Header {
		var h mail.Header
		h.Set("From", "Taro <taro@example.com>")
		h.Set("Message-Id", "<CAF=abc@mail.example.com>")
		h.Set("Content-Type", "text/plain; charset=utf-8")
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	cases := []struct {
		name string
		h    mail.Header
		want bool
	}{
		{"person", hdr(), false},
		{"Auto-Submitted: no", hdr("Auto-Submitted", "no"), false},
		{"Auto-Submitted: auto-replied", hdr("Auto-Submitted", "auto-replied"), true},
		{"Auto-Submitted: auto-generated", hdr("Auto-Submitted", "Auto-Generated; owner-email=x@example.com"), true},
		{"Precedence: bulk", hdr("Precedence", "bulk"), true},
		{"Precedence: junk", hdr("Precedence", "junk"), true},
		{"Precedence: list", hdr("Precedence", "List"), true},
		{"X-Auto-Response-Suppress", hdr("X-Auto-Response-Suppress", "OOF, AutoReply"), true},
		{"X-Autoreply", hdr("X-Autoreply", "yes"), true},
		{"List-Id", hdr("List-Id", "<news.example.com>"), true},
		{"List-Unsubscribe", hdr("List-Unsubscribe", "<mailto:u@example.com>"), true},
		{"null Return-Path", hdr("Return-Path", "<>"), true},
		{"real Return-Path", hdr("Return-Path", "<taro@example.com>"), false},
		{"report", hdr("Content-Type", `multipart/report; report-type=delivery-status; boundary="b"`), true},
		{"from daemon", hdr("From", "Mail Delivery System <MAILER-DAEMON@mail.example.net>"), true},
		{"our own Message-ID", hdr("Message-Id", "<"+MakeToken(testKey, 1, "abc")+"@example.jp>"), true},
	}
	for _, c := range cases {
		if got := AutoGenerated(c.h); got != c.want {
			t.Errorf("%s: AutoGenerated = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestRateLimit(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	rl := RateLimit{Max: 3, Per: time.Hour}
	ago := func(m int) time.Time { return now.Add(-time.Duration(m) * time.Minute) }
	if ok, _ := rl.Allow(nil, now); !ok {
		t.Error("no history: not allowed")
	}
	if ok, _ := rl.Allow([]time.Time{ago(10), ago(20)}, now); !ok {
		t.Error("2 of 3 used: not allowed")
	}
	ok, next := rl.Allow([]time.Time{ago(50), ago(10), ago(20), ago(90)}, now)
	if ok || !next.Equal(ago(50).Add(time.Hour)) {
		t.Errorf("3 of 3 used: Allow = %v, %v; want false, %v", ok, next, ago(50).Add(time.Hour))
	}
	if ok, _ := rl.Allow([]time.Time{ago(61), ago(70), ago(80)}, now); !ok {
		t.Error("old sends still count")
	}
	if ok, _ := (RateLimit{Max: 0, Per: time.Hour}).Allow(nil, now); ok {
		t.Error("Max 0 allowed a send")
	}
}

func composed(t *testing.T, to ...string) Message {
	t.Helper()
	a := sampleAddressing(t)
	a.To = to
	raw, err := Compose(sampleNotice(), a)
	if err != nil {
		t.Fatal(err)
	}
	return Message{To: to, Data: raw}
}

func TestSendStartTLS(t *testing.T) {
	be := &backend{}
	addr, tlsCfg := testServer(t, be, false, false)
	s, err := NewSender(Config{Addr: addr, Username: testUser, Password: testPass, From: "bouncewatch <bw@example.jp>", TLSConfig: tlsCfg})
	if err != nil {
		t.Fatal(err)
	}
	m := composed(t, "boss@example.jp")
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got := be.received()
	if len(got) != 1 {
		t.Fatalf("%d messages received", len(got))
	}
	r := got[0]
	if !r.TLS || r.AuthUser != testUser || r.From != "bw@example.jp" || len(r.To) != 1 || r.To[0] != "boss@example.jp" {
		t.Errorf("received %+v", r)
	}
	h, inline, _, _ := parts(t, r.Data)
	if s, _ := h.Subject(); s != Subject(sampleNotice()) {
		t.Errorf("received Subject %q", s)
	}
	mid, _ := h.MessageID()
	if id, ok := VerifyToken(testKey, mid); !ok || id != 42 {
		t.Errorf("received Message-ID %q does not verify", mid)
	}
	if !strings.Contains(inline["text/plain"], "受信側が送信元IPの評価が低い") {
		t.Error("received text part lacks the summary")
	}
}

func TestSendImplicitTLSAndLoopback(t *testing.T) {
	be := &backend{}
	addr, tlsCfg := testServer(t, be, true, false)
	s, err := NewSender(Config{Addr: addr, TLS: TLSImplicit, Username: testUser, Password: testPass, From: "bw@example.jp", TLSConfig: tlsCfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), composed(t, "boss@example.jp")); err != nil {
		t.Fatal(err)
	}
	if got := be.received(); len(got) != 1 || !got[0].TLS {
		t.Errorf("implicit TLS: received %d (TLS %v)", len(got), len(got) == 1 && got[0].TLS)
	}

	be2 := &backend{}
	addr2, _ := testServer(t, be2, false, true)
	s2, err := NewSender(Config{Addr: addr2, TLS: TLSNone, From: "bw@example.jp"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Send(context.Background(), composed(t, "boss@example.jp")); err != nil {
		t.Fatal(err)
	}
	if got := be2.received(); len(got) != 1 || got[0].TLS {
		t.Errorf("no TLS on loopback: received %d", len(got))
	}

	if _, err := NewSender(Config{Addr: "192.0.2.1:25", TLS: TLSNone, From: "bw@example.jp"}); err == nil {
		t.Error("TLS none to a remote address accepted")
	}
	if _, err := NewSender(Config{Addr: "192.0.2.1:25", TLS: "maybe", From: "bw@example.jp"}); err == nil {
		t.Error("unknown TLS mode accepted")
	}
}

func TestSendClassification(t *testing.T) {
	temp421 := &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "Service not available, try later"}
	temp451 := &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Local error in processing"}
	perm550 := &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
	perm554 := &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Message rejected as spam"}
	cases := []struct {
		name      string
		be        *backend
		pass      string
		to        []string
		untrusted bool
		retry     bool
	}{
		{"421 at MAIL", &backend{failMail: temp421}, testPass, []string{"boss@example.jp"}, false, true},
		{"451 at DATA", &backend{failData: temp451}, testPass, []string{"boss@example.jp"}, false, true},
		{"550 at RCPT", &backend{failRcpt: map[string]*smtp.SMTPError{"gone@example.jp": perm550}}, testPass, []string{"boss@example.jp", "gone@example.jp"}, false, false},
		{"554 at DATA", &backend{failData: perm554}, testPass, []string{"boss@example.jp"}, false, false},
		{"wrong password", &backend{}, "wrong", []string{"boss@example.jp"}, false, false},
		{"untrusted certificate", &backend{}, testPass, []string{"boss@example.jp"}, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			addr, tlsCfg := testServer(t, c.be, false, false)
			if c.untrusted {
				tlsCfg = nil
			}
			s, err := NewSender(Config{Addr: addr, Username: testUser, Password: c.pass, From: "bw@example.jp", TLSConfig: tlsCfg})
			if err != nil {
				t.Fatal(err)
			}
			err = s.Send(context.Background(), composed(t, c.to...))
			if err == nil {
				t.Fatal("Send succeeded")
			}
			t.Logf("error: %v", err)
			if retry, _ := notify.Retryable(err); retry != c.retry {
				t.Errorf("Retryable(%v) = %v, want %v", err, retry, c.retry)
			}
			if got := c.be.received(); len(got) != 0 {
				t.Errorf("%d messages delivered despite the failure", len(got))
			}
		})
	}

	t.Run("connection refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		s, err := NewSender(Config{Addr: addr, From: "bw@example.jp"})
		if err != nil {
			t.Fatal(err)
		}
		err = s.Send(context.Background(), composed(t, "boss@example.jp"))
		if retry, _ := notify.Retryable(err); err == nil || !retry {
			t.Errorf("Send to a closed port = %v, retryable %v", err, retry)
		}
	})

	t.Run("canceled", func(t *testing.T) {
		addr, tlsCfg := testServer(t, &backend{}, false, false)
		s, err := NewSender(Config{Addr: addr, Username: testUser, Password: testPass, From: "bw@example.jp", TLSConfig: tlsCfg})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err = s.Send(ctx, composed(t, "boss@example.jp"))
		if retry, _ := notify.Retryable(err); err == nil || !retry {
			t.Errorf("canceled Send = %v, retryable %v", err, retry)
		}
	})
}

// Issue 11: a summary mail starts with the short shape (what happened,
// whether it may still arrive, the first action, whom it hit); the long
// explanation comes after it. A detail mail has no summary block.
func TestTextShortSummaryFirst(t *testing.T) {
	n := sampleNotice()
	text := Text(n)
	lines := strings.Split(text, "\n")
	if len(lines) < 6 {
		t.Fatalf("text too short:\n%s", text)
	}
	head := strings.Join(lines[:6], "\n")
	for _, want := range []string{"見通し: ", "対応: ［", "宛先: "} {
		if !strings.Contains(head, want) {
			t.Errorf("the first lines lack %q:\n%s", want, head)
		}
	}
	if i, j := strings.Index(text, "対応: ［"), strings.Index(text, "■ 何が起きたか"); i < 0 || j < 0 || i > j {
		t.Errorf("the summary does not come before the details:\n%s", text)
	}
	n.Kind = notify.KindDetail
	if strings.Contains(Text(n), "見通し: ") {
		t.Errorf("a detail mail repeats the summary")
	}
}
