package imapwatch_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-sasl"

	"github.com/bouncewatch/bouncewatch/internal/imapwatch"
)

const (
	testUser     = "office@example.jp"
	testPassword = "correct horse"
)

// testServer is go-imap's in-memory server on 127.0.0.1:0 with hooks for
// faults: a mutable password, login counting, kicking connections and an
// optional XOAUTH2 mechanism.
type testServer struct {
	t    *testing.T
	addr string
	user *imapmemserver.User
	srv  *imapserver.Server

	mu        sync.Mutex
	password  string
	token     string // accepted XOAUTH2 bearer token; "" disables XOAUTH2
	conns     map[net.Conn]struct{}
	logins    int
	xoauthOK  []string // tokens accepted
	xoauthBad int
}

func newTestServer(t *testing.T, caps imap.CapSet) *testServer {
	t.Helper()
	ts := &testServer{t: t, password: testPassword, conns: map[net.Conn]struct{}{}}
	ts.user = imapmemserver.NewUser(testUser, "unused")
	if err := ts.user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	if caps == nil {
		caps = imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapUIDPlus: {}, imap.CapMove: {}}
	}
	ts.srv = imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return &testSession{ts: ts}, nil, nil
		},
		Caps:         caps,
		InsecureAuth: true,
		Logger:       discardLogger{},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = ln.Addr().String()
	go ts.srv.Serve(&trackingListener{Listener: ln, ts: ts})
	t.Cleanup(func() { ts.srv.Close() })
	return ts
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}

type trackingListener struct {
	net.Listener
	ts *testServer
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.ts.mu.Lock()
		l.ts.conns[c] = struct{}{}
		l.ts.mu.Unlock()
	}
	return c, err
}

// kick closes every open connection, as a server restart would.
func (ts *testServer) kick() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for c := range ts.conns {
		c.Close()
		delete(ts.conns, c)
	}
}

func (ts *testServer) setPassword(p string) {
	ts.mu.Lock()
	ts.password = p
	ts.mu.Unlock()
}

func (ts *testServer) loginCount() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.logins
}

// append adds a message to mailbox through the server's own user object.
func (ts *testServer) append(t *testing.T, mailbox string, msg []byte) uint32 {
	t.Helper()
	c := ts.client(t)
	defer c.Close()
	cmd := c.Append(mailbox, int64(len(msg)), nil)
	if _, err := cmd.Write(msg); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := cmd.Wait()
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return uint32(data.UID)
}

// client returns a logged-in admin client (for setup and inspection).
func (ts *testServer) client(t *testing.T) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(ts.addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts.mu.Lock()
	pw := ts.password
	ts.mu.Unlock()
	if err := c.Login(testUser, pw).Wait(); err != nil {
		t.Fatal(err)
	}
	return c
}

// flags returns the flags of every message in mailbox, by UID.
func (ts *testServer) flags(t *testing.T, mailbox string) map[uint32][]imap.Flag {
	t.Helper()
	c := ts.client(t)
	defer c.Close()
	if _, err := c.Select(mailbox, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	var all imap.SeqSet
	all.AddRange(1, 0)
	bufs, err := c.Fetch(all, &imap.FetchOptions{UID: true, Flags: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	out := map[uint32][]imap.Flag{}
	for _, b := range bufs {
		out[uint32(b.UID)] = b.Flags
	}
	return out
}

type testSession struct {
	*imapmemserver.UserSession
	ts *testServer
}

var (
	_ imapserver.SessionIMAP4rev2 = (*testSession)(nil)
	_ imapserver.SessionSASL      = (*testSession)(nil)
)

func (s *testSession) Close() error {
	if s.UserSession != nil {
		return s.UserSession.Close()
	}
	return nil
}

func (s *testSession) Login(username, password string) error {
	s.ts.mu.Lock()
	s.ts.logins++
	ok := username == testUser && password == s.ts.password
	s.ts.mu.Unlock()
	if !ok {
		return imapserver.ErrAuthFailed
	}
	s.UserSession = imapmemserver.NewUserSession(s.ts.user)
	return nil
}

// Idle polls instead of relying on the tracker's notification channel,
// which drops an update that arrives while IDLE is starting.
func (s *testSession) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := s.UserSession.Poll(w, true); err != nil {
			return err
		}
		select {
		case <-stop:
			return nil
		case <-tick.C:
		}
	}
}

func (s *testSession) AuthenticateMechanisms() []string {
	s.ts.mu.Lock()
	defer s.ts.mu.Unlock()
	if s.ts.token != "" {
		return []string{"PLAIN", "XOAUTH2"}
	}
	return []string{"PLAIN"}
}

func (s *testSession) Authenticate(mech string) (sasl.Server, error) {
	switch mech {
	case "PLAIN":
		return sasl.NewPlainServer(func(identity, username, password string) error {
			return s.Login(username, password)
		}), nil
	case "XOAUTH2":
		return &xoauth2Server{s: s}, nil
	}
	return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Text: "unsupported mechanism"}
}

// xoauth2Server is the server side of XOAUTH2 as Gmail and Microsoft 365
// implement it: an error is a JSON challenge followed by NO.
type xoauth2Server struct {
	s      *testSession
	failed bool
}

func (x *xoauth2Server) Next(resp []byte) ([]byte, bool, error) {
	if x.failed {
		return nil, true, imapserver.ErrAuthFailed
	}
	if resp == nil {
		return []byte{}, false, nil
	}
	parts := strings.Split(string(resp), "\x01")
	var user, token string
	for _, p := range parts {
		if v, ok := strings.CutPrefix(p, "user="); ok {
			user = v
		}
		if v, ok := strings.CutPrefix(p, "auth=Bearer "); ok {
			token = v
		}
	}
	ts := x.s.ts
	ts.mu.Lock()
	ts.logins++
	ok := user == testUser && token != "" && token == ts.token && len(parts) == 4 && parts[2] == "" && parts[3] == ""
	if ok {
		ts.xoauthOK = append(ts.xoauthOK, token)
	} else {
		ts.xoauthBad++
	}
	ts.mu.Unlock()
	if !ok {
		x.failed = true
		return []byte(`{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}`), false, nil
	}
	x.s.UserSession = imapmemserver.NewUserSession(ts.user)
	return nil, true, nil
}

// fakeSink is an in-memory Sink. Candidates are messages whose header has
// "X-Test-Candidate: yes"; all candidates are returned for disposition.
type fakeSink struct {
	mu        sync.Mutex
	validity  map[string]uint32
	last      map[string]uint32
	delivered []imapwatch.Message
	batches   []imapwatch.Batch
	resets    int
	failNext  error
}

var _ imapwatch.Sink = (*fakeSink)(nil)

func newFakeSink() *fakeSink {
	return &fakeSink{validity: map[string]uint32{}, last: map[string]uint32{}}
}

func (s *fakeSink) Cursor(ctx context.Context, mailbox string) (uint32, uint32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.validity[mailbox], s.last[mailbox], nil
}

func (s *fakeSink) ResetMailbox(ctx context.Context, mailbox string, v uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.validity[mailbox] = v
	s.last[mailbox] = 0
	s.resets++
	return nil
}

func (s *fakeSink) Candidate(header []byte, size int64) bool {
	return bytes.Contains(header, []byte("X-Test-Candidate: yes"))
}

func (s *fakeSink) Deliver(ctx context.Context, b imapwatch.Batch) ([]uint32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.failNext; err != nil {
		s.failNext = nil
		return nil, err
	}
	if b.UIDValidity != s.validity[b.Mailbox] {
		return nil, fmt.Errorf("batch for UIDVALIDITY %d, cursor has %d", b.UIDValidity, s.validity[b.Mailbox])
	}
	prev := s.last[b.Mailbox]
	var dispose []uint32
	for _, m := range b.Messages {
		if m.UID <= prev {
			return nil, fmt.Errorf("UID %d not above %d", m.UID, prev)
		}
		prev = m.UID
		if m.Body != nil {
			dispose = append(dispose, m.UID)
		}
	}
	if prev != b.LastUID {
		return nil, fmt.Errorf("LastUID %d, last message %d", b.LastUID, prev)
	}
	s.last[b.Mailbox] = b.LastUID
	s.delivered = append(s.delivered, b.Messages...)
	s.batches = append(s.batches, b)
	return dispose, nil
}

func (s *fakeSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.delivered)
}

func (s *fakeSink) messages() []imapwatch.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]imapwatch.Message(nil), s.delivered...)
}

// testMessage builds a small RFC 5322 message.
func testMessage(i int, candidate bool, bodySize int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: MAILER-DAEMON@mx.example.net\r\nTo: office@example.jp\r\nSubject: test %d\r\nMessage-ID: <%d@example.jp>\r\n", i, i)
	if candidate {
		b.WriteString("X-Test-Candidate: yes\r\n")
	}
	b.WriteString("\r\n")
	line := strings.Repeat("x", 76) + "\r\n"
	for b.Len() < bodySize {
		b.WriteString(line)
	}
	b.WriteString("end\r\n")
	return b.Bytes()
}

// waitFor polls cond until it holds; the limit is a hang guard only.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// runWatcher runs w until the test ends.
func runWatcher(t *testing.T, w *imapwatch.Watcher) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Run returned %v, want context.Canceled", err)
				}
			case <-time.After(20 * time.Second):
				t.Errorf("Run did not return after cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func baseConfig(addr string) imapwatch.Config {
	return imapwatch.Config{
		Addr:       addr,
		TLS:        imapwatch.TLSNone,
		Username:   testUser,
		Auth:       imapwatch.Password(testPassword),
		BackoffMin: time.Millisecond,
		BackoffMax: 10 * time.Millisecond,
		Timeout:    5 * time.Second,
	}
}

// logBuffer is a concurrency-safe JSON log sink.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) records(t *testing.T) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	dec := json.NewDecoder(bytes.NewReader(l.buf.Bytes()))
	for {
		var m map[string]any
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newLogger(lb *logBuffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// blackholeProxy forwards TCP to target until freeze; after that, existing
// connections silently drop everything (a dead NAT entry), while new
// connections are forwarded normally.
type blackholeProxy struct {
	addr   string
	frozen atomic.Int64 // connections with id <= frozen drop traffic
	nextID atomic.Int64
	ln     net.Listener
}

func newBlackholeProxy(t *testing.T, target string) *blackholeProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &blackholeProxy{addr: ln.Addr().String(), ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			id := p.nextID.Add(1)
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			go p.pipe(id, c, s)
			go p.pipe(id, s, c)
		}
	}()
	return p
}

func (p *blackholeProxy) pipe(id int64, from, to net.Conn) {
	defer from.Close()
	defer to.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := from.Read(buf)
		if n > 0 && id > p.frozen.Load() {
			if _, werr := to.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// freeze blackholes all connections opened so far.
func (p *blackholeProxy) freeze() { p.frozen.Store(p.nextID.Load()) }

// testTLS returns a server certificate for 127.0.0.1 and a client config
// trusting it (borrowed from httptest's built-in test certificate).
func testTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	hs := httptest.NewTLSServer(nil)
	t.Cleanup(hs.Close)
	pool := x509.NewCertPool()
	pool.AddCert(hs.Certificate())
	return &tls.Config{Certificates: hs.TLS.Certificates}, &tls.Config{RootCAs: pool}
}

// newTLSTestServer is newTestServer with STARTTLS offered on a plain
// listener and, when implicit, a TLS listener instead.
func newTLSTestServer(t *testing.T, implicit bool) (*testServer, *tls.Config) {
	t.Helper()
	srvTLS, cliTLS := testTLS(t)
	ts := &testServer{t: t, password: testPassword, conns: map[net.Conn]struct{}{}}
	ts.user = imapmemserver.NewUser(testUser, "unused")
	if err := ts.user.Create("INBOX", nil); err != nil {
		t.Fatal(err)
	}
	ts.srv = imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return &testSession{ts: ts}, nil, nil
		},
		Caps:      imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapUIDPlus: {}, imap.CapMove: {}},
		TLSConfig: srvTLS,
		Logger:    discardLogger{},
	})
	var ln net.Listener
	var err error
	if implicit {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", srvTLS)
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = ln.Addr().String()
	go ts.srv.Serve(&trackingListener{Listener: ln, ts: ts})
	t.Cleanup(func() { ts.srv.Close() })
	return ts, cliTLS
}

func (ts *testServer) appendTLS(t *testing.T, cfg *tls.Config, implicit bool, msg []byte) {
	t.Helper()
	var c *imapclient.Client
	var err error
	if implicit {
		c, err = imapclient.DialTLS(ts.addr, &imapclient.Options{TLSConfig: cfg})
	} else {
		c, err = imapclient.DialStartTLS(ts.addr, &imapclient.Options{TLSConfig: cfg})
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(testUser, testPassword).Wait(); err != nil {
		t.Fatal(err)
	}
	cmd := c.Append("INBOX", int64(len(msg)), nil)
	cmd.Write(msg)
	cmd.Close()
	if _, err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
}
