// Package demo runs bouncewatch end to end with no external server: an
// in-process IMAP server (go-imap's imapmemserver) seeded with bounces and
// ordinary mail, the real watcher, triage, store, incident grouping and the
// stdout notifier printing Japanese summaries.
package demo

import (
	"bytes"
	"cmp"
	"context"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	slackgo "github.com/slack-go/slack"

	"github.com/bouncewatch/bouncewatch/internal/app"
	"github.com/bouncewatch/bouncewatch/internal/notify"
	"github.com/bouncewatch/bouncewatch/internal/notify/slack"
)

// mailFS holds the demo's own messages (written for the demo with RFC 5737
// addresses and RFC 2606 domains): an office's morning of 11 bounces (4
// Outlook.com S775 delays and 2 S3140 blocks from one sending IP, 3 unknown
// users at different providers, 2 full mailboxes), an ordinary mail and an
// out-of-office reply. Embedded, so a built binary runs the demo anywhere.
//
//go:embed mail/*.eml
var mailFS embed.FS

// Mail returns the demo's built-in messages (.eml files at the top level).
func Mail() fs.FS {
	sub, err := fs.Sub(mailFS, "mail")
	if err != nil {
		panic(err) // the embedded directory exists: a build error otherwise
	}
	return sub
}

// Server is an in-process IMAP server with one user and an INBOX.
type Server struct {
	Addr     string
	User     string
	Password string
	user     *imapmemserver.User
	srv      *imapserver.Server
}

// StartServer listens on 127.0.0.1 (plain IMAP, loopback only).
func StartServer() (*Server, error) {
	s := &Server{User: "office@example.jp", Password: "demo-password"}
	s.user = imapmemserver.NewUser(s.User, s.Password)
	if err := s.user.Create("INBOX", nil); err != nil {
		return nil, err
	}
	s.srv = imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return &session{user: s.user}, nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapUIDPlus: {}, imap.CapMove: {}},
		InsecureAuth: true,
		Logger:       quiet{},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.Addr = ln.Addr().String()
	go s.srv.Serve(ln)
	return s, nil
}

// Append adds a message to INBOX.
func (s *Server) Append(msg []byte) error {
	_, err := s.user.Append("INBOX", bytes.NewReader(msg), &imap.AppendOptions{})
	return err
}

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

type quiet struct{}

func (quiet) Printf(string, ...any) {}

// session polls while idle: imapmemserver's tracker can drop an update that
// arrives while IDLE starts.
type session struct {
	*imapmemserver.UserSession
	user *imapmemserver.User
}

func (s *session) Login(username, password string) error {
	if err := s.user.Login(username, password); err != nil {
		return err
	}
	s.UserSession = imapmemserver.NewUserSession(s.user)
	return nil
}

func (s *session) Close() error {
	if s.UserSession != nil {
		return s.UserSession.Close()
	}
	return nil
}

func (s *session) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		if err := s.UserSession.Poll(w, true); err != nil {
			return err
		}
		select {
		case <-stop:
			return nil
		case <-t.C:
		}
	}
}

// Options of a demo run.
type Options struct {
	MailDir string        // .eml files to seed; "" for the built-in office morning (Mail)
	Once    bool          // stop when the seeded mail has been triaged and notified
	Wait    time.Duration // GROUP_WAIT of the demo (default 2s)
	Out     io.Writer
	Logger  *slog.Logger
	HTML    string // when set, write the incidents' Slack messages (the real Block Kit payloads) as an HTML page here
}

// Run seeds the server, runs the real pipeline against it and prints the
// notifications to Out. With Once it returns when everything seeded has been
// triaged and the incidents' first notices were printed.
func Run(ctx context.Context, o Options) error {
	if o.Wait <= 0 {
		o.Wait = 2 * time.Second
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	var src fs.FS = Mail()
	where := "「ある朝の事務所」に届いたメール" // the embedded set
	if o.MailDir != "" {
		src, where = os.DirFS(o.MailDir), "フォルダー "+o.MailDir+" のメール"
	}
	files, err := fs.Glob(src, "*.eml")
	if err != nil || len(files) == 0 {
		return fmt.Errorf("demo: no .eml files in %s", cmp.Or(o.MailDir, "the embedded set"))
	}
	sort.Strings(files)
	srv, err := StartServer()
	if err != nil {
		return err
	}
	defer srv.Close()
	for _, f := range files {
		b, err := fs.ReadFile(src, f)
		if err != nil {
			return err
		}
		if err := srv.Append(b); err != nil {
			return fmt.Errorf("demo: seeding %s: %w", f, err)
		}
	}
	dir, err := os.MkdirTemp("", "bouncewatch-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// The sender checks ask the demo's own DNS server, whose zones (Zones)
	// are the world of the built-in messages. Other messages name domains
	// and IPs those zones know nothing of: what the checks would say of
	// them would not be true, so they are off.
	dnsServer := app.DNSServerOff
	if o.MailDir == "" {
		dns, err := startDNS()
		if err != nil {
			return fmt.Errorf("demo: DNS server: %w", err)
		}
		defer dns.Close()
		dnsServer = dns.Addr
	}

	fmt.Fprintf(o.Out, "bouncewatch デモ: %s %d 通(エラーメールと普通のメール)を、デモ用のIMAPサーバー(%s)の受信箱に入れました。\n", where, len(files), srv.Addr)
	if o.MailDir == "" {
		fmt.Fprintf(o.Out, "送信側の問題の通知には、デモ用のDNSサーバー(%s)で確かめた「確認結果」が付きます。\n", dnsServer)
	} else {
		fmt.Fprintln(o.Out, "このフォルダーのメールのドメインやIPはデモ用のDNSにないため、「確認結果」(DNSでの確認)は付きません。")
	}
	fmt.Fprintf(o.Out, "受信箱の監視を始めます。同じ原因のエラーは%s待ってから、まとめて1件の通知にします。\n\n", waitText(o.Wait))

	cfg := app.Config{
		IMAPAddr: srv.Addr, IMAPTLS: "none", IMAPUsername: srv.User, IMAPPassword: srv.Password,
		IMAPAuth: "password", IMAPMailbox: "INBOX", IMAPAfter: "flag", IMAPProbe: 4 * time.Minute,
		IMAPMaxFetch: 25 << 20, DB: filepath.Join(dir, "demo.db"), Notify: "stdout",
		GroupWait: o.Wait, GroupInterval: 10 * time.Minute, RepeatInterval: 24 * time.Hour, ResolveAfter: 24 * time.Hour,
		DNSServer: dnsServer, DNSTimeout: 2 * time.Second,
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var quietSince time.Time
	a, err := app.New(ctx, cfg, app.Options{
		Logger: o.Logger, Stdout: o.Out, StdoutText: true,
		Idle: func() {
			mu.Lock()
			quietSince = time.Now()
			mu.Unlock()
		},
	})
	if err != nil {
		return err
	}
	if o.Once {
		go func() {
			t := time.NewTicker(100 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				st, err := a.DB().Stats(ctx)
				if err != nil || st.MessagesSeen < int64(len(files)) || st.OutboxBacklog > 0 {
					continue
				}
				mu.Lock()
				q := quietSince
				mu.Unlock()
				// Every seeded message recorded, nothing waiting to be sent, and
				// the group wait of the last incident has passed.
				if q.IsZero() || time.Since(q) <= 300*time.Millisecond || !allNotified(ctx, a) {
					continue
				}
				// The incident clock may have made its decisions (and their
				// outbox rows) while allNotified read the incidents (a second
				// or more for a bounce naming a thousand recipients): only an
				// empty outbox read after it means everything was printed.
				if st, err := a.DB().Stats(ctx); err == nil && st.OutboxBacklog == 0 {
					if o.HTML != "" {
						if err := writeHTML(ctx, a, o.HTML); err != nil {
							fmt.Fprintf(o.Out, "HTMLページを書けませんでした: %v\n", err)
						} else {
							fmt.Fprintf(o.Out, "\nSlackでの見え方(実際のBlock Kitから作成): %s\n", o.HTML)
						}
					}
					cancel()
					return
				}
			}
		}()
	}
	err = a.Run(ctx)
	st := a.Watcher().Status()
	fmt.Fprintf(o.Out, "\nデモ終了: %d 通を確認しました。\n", st.MessagesDelivered)
	if err != nil && !strings.Contains(err.Error(), "context canceled") {
		return err
	}
	return nil
}

// allNotified reports whether every open incident has had its first notice.
func allNotified(ctx context.Context, a *app.App) bool {
	incs, err := a.DB().OpenIncidents(ctx)
	if err != nil {
		return false
	}
	for _, inc := range incs {
		det, err := a.DB().IncidentDetail(ctx, inc.ID, 1)
		if err != nil || len(det.Log) == 0 {
			return false
		}
	}
	return true
}

// writeHTML renders every open incident's Slack message (the real Block Kit
// payload of the Slack notifier) to an HTML page.
func writeHTML(ctx context.Context, a *app.App, path string) error {
	ns, err := a.Notices(ctx)
	if err != nil {
		return err
	}
	// As the Slack sender shows them: an incident about our sending server
	// gets its own message; recipient-side items share one digest.
	var msgs [][]slackgo.Block
	var items []notify.Notice
	for _, n := range ns {
		if n.Task != "" {
			items = append(items, n)
			continue
		}
		blocks, _ := slack.Blocks(n)
		msgs = append(msgs, blocks)
	}
	if len(items) > 0 {
		blocks, _ := slack.Digest(items)
		msgs = append(msgs, blocks)
	}
	page, err := BlockKitHTML("bouncewatch — Slack notifications", msgs)
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(page), 0o644)
}

// waitText renders the group wait in Japanese: 「2秒」, 「1分30秒」.
func waitText(d time.Duration) string {
	d = d.Round(time.Second)
	m, s := int(d/time.Minute), int((d%time.Minute)/time.Second)
	switch {
	case m > 0 && s > 0:
		return fmt.Sprintf("%d分%d秒", m, s)
	case m > 0:
		return fmt.Sprintf("%d分", m)
	case s == 0:
		return "少し"
	}
	return fmt.Sprintf("%d秒", s)
}
