package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/bounce"
	"github.com/bouncewatch/bouncewatch/internal/incident"
	"github.com/bouncewatch/bouncewatch/internal/notify/email"
	"github.com/bouncewatch/bouncewatch/internal/store"
)

// replyFixture is a store with one incident and a summary token issued at
// issued, and the replies component that reads replies to it.
type replyFixture struct {
	r      *replies
	db     *store.DB
	inc    int64
	msgID  string // the summary's Message-ID
	issued time.Time
}

var replyKey = []byte("0123456789abcdef0123456789abcdef")

func newReplyFixture(t *testing.T, cfg Config) *replyFixture {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "bw.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	issued := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	rep := &bounce.Report{Kind: bounce.KindBounce, SendingIP: "203.0.113.25", Original: bounce.Original{From: "staff@example.jp"},
		Recipients: []bounce.Recipient{{Address: "a@outlook.jp", Action: bounce.ActionFailed, Status: "5.7.1", Reason: "blocked", Provider: "microsoft"}}}
	res, err := db.CommitBatch(ctx, store.Batch{Mailbox: "INBOX", UIDValidity: 1, LastUID: 1, Now: issued,
		Timing: incident.Timing{}.WithDefaults(), Messages: []store.Message{{UID: 1, Report: rep, Raw: []byte("x")}}})
	if err != nil || len(res.Incidents) != 1 {
		t.Fatalf("commit: %v %+v", err, res)
	}
	inc := res.Incidents[0]
	token := email.MakeToken(replyKey, inc, "summary1")
	if err := db.PutToken(ctx, token, inc, issued); err != nil {
		t.Fatal(err)
	}
	if cfg.IMAPUsername == "" {
		cfg.IMAPUsername = "office@example.jp"
	}
	cfg.SMTPFrom = "bw@example.jp"
	return &replyFixture{r: newReplies(replyKey, db, cfg, slog.New(slog.NewTextHandler(io.Discard, nil))),
		db: db, inc: inc, msgID: email.MessageID(token, "example.jp"), issued: issued}
}

// mail is a reply to the summary from from saying body, with extra header fields on top.
func (f *replyFixture) mail(from, body string, n int, top ...string) []byte {
	var b strings.Builder
	for _, h := range top {
		b.WriteString(h + "\r\n")
	}
	fmt.Fprintf(&b, "From: %s\r\nTo: office@example.jp\r\nSubject: Re: summary\r\nMessage-ID: <reply.%d@example.jp>\r\n", from, n)
	fmt.Fprintf(&b, "In-Reply-To: <%s>\r\nReferences: <%s>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n", f.msgID, f.msgID, body)
	return []byte(b.String())
}

func (f *replyFixture) request(t *testing.T, raw []byte, at time.Time) (*store.Request, replyPayload) {
	t.Helper()
	rq, err := f.r.request(context.Background(), raw, at)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	var p replyPayload
	if rq != nil {
		if err := json.Unmarshal(rq.Payload, &p); err != nil {
			t.Fatal(err)
		}
	}
	return rq, p
}

// Issue 13: a summary can be answered for BOUNCEWATCH_REPLY_TOKEN_TTL (30
// days by default), not forever.
func TestReplyTokenExpires(t *testing.T) {
	f := newReplyFixture(t, Config{})
	if rq, _ := f.request(t, f.mail("staff@example.jp", "詳細", 1), f.issued.Add(29*24*time.Hour)); rq == nil || rq.IncidentID != f.inc {
		t.Fatalf("a reply within 30 days: %+v", rq)
	}
	if rq, _ := f.request(t, f.mail("staff@example.jp", "詳細", 2), f.issued.Add(31*24*time.Hour)); rq != nil {
		t.Errorf("a reply after 31 days was accepted: %+v", rq)
	}
	g := newReplyFixture(t, Config{ReplyTokenTTL: time.Hour})
	if rq, _ := g.request(t, g.mail("staff@example.jp", "詳細", 3), g.issued.Add(2*time.Hour)); rq != nil {
		t.Errorf("a reply after the configured TTL was accepted")
	}
}

// Issue 13: a token the database does not know (valid under the key, but the
// database was recreated) is ignored, not turned into a request for an
// incident that does not exist.
func TestReplyUnknownTokenIgnored(t *testing.T) {
	f := newReplyFixture(t, Config{})
	token := email.MakeToken(replyKey, 999, "gone")
	raw := []byte(strings.ReplaceAll(string(f.mail("staff@example.jp", "詳細", 1)), f.msgID, email.MessageID(token, "example.jp")))
	if rq, _ := f.request(t, raw, f.issued.Add(time.Hour)); rq != nil {
		t.Errorf("a reply for an unknown incident became a request: %+v", rq)
	}
}

// Issue 13: a flood of replies from sato+N@ (one mailbox, many addresses)
// gets a handful of answers, not one each; so does a flood about one
// incident from many people.
func TestReplyFloodFromPlusAddresses(t *testing.T) {
	f := newReplyFixture(t, Config{})
	at := f.issued.Add(time.Hour)
	answered := 0
	for i := range 60 {
		if rq, _ := f.request(t, f.mail(fmt.Sprintf("Sato+%d@Example.jp", i), "詳細", i), at.Add(time.Duration(i)*time.Second)); rq != nil {
			answered++
		}
	}
	if answered != answersPerAddress {
		t.Errorf("60 replies from sato+N@: %d answered, want %d", answered, answersPerAddress)
	}
	g := newReplyFixture(t, Config{})
	answered = 0
	for i := range 60 {
		if rq, _ := g.request(t, g.mail(fmt.Sprintf("person%d@example.jp", i), "詳細", i), at.Add(time.Duration(i)*time.Second)); rq != nil {
			answered++
		}
	}
	if answered != answersPerIncident {
		t.Errorf("60 replies from 60 people about one incident: %d answered, want %d", answered, answersPerIncident)
	}
	// An hour later the sender may ask again.
	if rq, _ := f.request(t, f.mail("sato@example.jp", "詳細", 100), at.Add(2*time.Hour)); rq == nil {
		t.Error("the limit did not lift after an hour")
	}
}

// Issue 13: a From that the mailbox server did not authenticate cannot mute
// or resolve by mail; a failing DMARC gets nothing at all.
func TestReplyForgedFromWithoutAuthentication(t *testing.T) {
	f := newReplyFixture(t, Config{ReplyAuthserv: "mx.example.jp"})
	at := f.issued.Add(time.Hour)
	const pass = "Authentication-Results: mx.example.jp; spf=pass smtp.mailfrom=example.jp; dmarc=pass header.from=example.jp"
	const fail = "Authentication-Results: mx.example.jp; spf=fail smtp.mailfrom=example.jp; dmarc=fail header.from=example.jp"
	const other = "Authentication-Results: mx.evil.example; dmarc=pass header.from=example.jp"

	for i, tc := range []struct {
		name, from, body, auth string
		want                   string // nil, refused, mute, resolve, detail
	}{
		{"no results, 停止", "staff@example.jp", "停止", "", "refused"},
		{"no results, 解決", "staff@example.jp", "解決", "", "refused"},
		{"results of another server, 停止", "staff@example.jp", "停止 3日", other, "refused"},
		{"no results, 詳細", "staff@example.jp", "詳細", "", "detail"},
		{"DMARC fails, 停止", "staff@example.jp", "停止", fail, "nil"},
		{"DMARC fails, 詳細", "staff@example.jp", "詳細", fail, "nil"},
		{"stranger with a pass", "outsider@evil.example", "停止", "Authentication-Results: mx.example.jp; dmarc=pass header.from=evil.example", "nil"},
		{"authenticated 停止", "staff@example.jp", "停止", pass, "mute"},
		{"authenticated 解決", "staff@example.jp", "解決", pass, "resolve"},
	} {
		var top []string
		if tc.auth != "" {
			top = append(top, tc.auth)
		}
		from := tc.from
		if from == "staff@example.jp" { // one person each: the rate limit is not under test here
			from = fmt.Sprintf("staff%d@example.jp", i)
		}
		rq, p := f.request(t, f.mail(from, tc.body, i, top...), at.Add(time.Duration(i)*time.Second))
		got := "nil"
		switch {
		case rq == nil:
		case p.Refused && rq.MuteUntil.IsZero() && !rq.Resolve:
			got = "refused"
		case !rq.MuteUntil.IsZero():
			got = "mute"
		case rq.Resolve:
			got = "resolve"
		case p.Command == cmdDetail:
			got = "detail"
		}
		if got != tc.want {
			t.Errorf("%s: %s, want %s (%+v)", tc.name, got, tc.want, rq)
		}
	}
	// Without a trusted authserv-id nothing is authenticated: a pass in the
	// header proves nothing (the sender could have written it).
	g := newReplyFixture(t, Config{})
	if rq, p := g.request(t, g.mail("staff@example.jp", "停止", 1, pass), at); rq == nil || !p.Refused || !rq.MuteUntil.IsZero() {
		t.Errorf("停止 with results but no trusted authserv-id: %+v %+v", rq, p)
	}
}
