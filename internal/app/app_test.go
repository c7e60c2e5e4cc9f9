package app_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/app"
)

// syncBuffer is a bytes.Buffer safe for the app's writer goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// events parses the stdout target's JSON Lines.
func (s *syncBuffer) events(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("stdout line is not JSON: %q", line)
		}
		out = append(out, m)
	}
	return out
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "mail", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testConfig(addr, user, pass, db string) app.Config {
	return app.Config{
		IMAPAddr: addr, IMAPTLS: "none", IMAPUsername: user, IMAPPassword: pass, IMAPAuth: "password",
		IMAPMailbox: "INBOX", IMAPAfter: "none", IMAPProbe: time.Minute, IMAPMaxFetch: 25 << 20,
		DB: db, Notify: "stdout", GroupWait: 300 * time.Millisecond, GroupInterval: time.Hour,
		RepeatInterval: 24 * time.Hour, ResolveAfter: 24 * time.Hour,
		DNSServer: app.DNSServerOff, // the sender checks have their own tests (health_test.go)
	}
}

// start runs an App printing to out until the test ends or stop is called.
func start(t *testing.T, cfg app.Config, out *syncBuffer) *running {
	t.Helper()
	return runAppWith(t, cfg, app.Options{Stdout: out})
}

// waitFor polls cond (every 10 ms, for up to 20 s) until it holds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second) // a bound, not a wait: the 2-core CI runs the Dovecot tests side by side
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func count(evs []map[string]any, event string, pred func(map[string]any) bool) int {
	n := 0
	for _, e := range evs {
		if e["event"] == event && (pred == nil || pred(e)) {
			n++
		}
	}
	return n
}

func recipientIs(addr string) func(map[string]any) bool {
	return func(e map[string]any) bool {
		rs, _ := e["recipients"].([]any)
		for _, r := range rs {
			if m, ok := r.(map[string]any); ok && m["address"] == addr {
				return true
			}
		}
		return false
	}
}

// A bounce is reported, ordinary mail is not; after a restart nothing is
// reported again and new mail is still seen.
func TestRunReportsBouncesOnceAcrossRestarts(t *testing.T) {
	t.Parallel()
	srv := startIMAP(t)
	db := filepath.Join(t.TempDir(), "bw.db")
	cfg := testConfig(srv.Addr, srv.User, srv.Password, db)
	cfg.HTTPAddr = ""

	srv.Append(fixture(t, "neg-business-iso2022jp.eml"))
	srv.Append(fixture(t, "heteml-outlookjp-ratelimit-failed.eml"))
	out := &syncBuffer{}
	r := start(t, cfg, out)
	waitFor(t, "the report and the incident notice", func() bool {
		evs := out.events(t)
		return count(evs, "report", nil) >= 1 && count(evs, "incident", nil) >= 1
	})
	// Delivered while watching (IDLE).
	srv.Append(fixture(t, "neg-newsletter.eml"))
	srv.Append(fixture(t, "postfix-userunknown.eml"))
	waitFor(t, "the second report", func() bool { return count(out.events(t), "report", nil) >= 2 })
	r.waitSeen(t, 4)
	r.stop()

	evs := out.events(t)
	if n := count(evs, "report", nil); n != 2 {
		t.Fatalf("got %d reports, want 2 (ordinary mail must not be reported):\n%s", n, out.String())
	}
	if n := count(evs, "report", recipientIs("taro.example@outlook.jp")); n != 1 {
		t.Errorf("outlook bounce reported %d times", n)
	}
	var inc map[string]any
	for _, e := range evs {
		if e["event"] == "incident" {
			inc = e
			break
		}
	}
	if text, _ := inc["text"].(string); !strings.Contains(text, "203.0.113.25") || !strings.Contains(text, "Microsoft") {
		t.Errorf("incident text lacks the IP or provider: %q", text)
	}

	// Restart on the same database: nothing again, new mail seen.
	out2 := &syncBuffer{}
	srv.Append(fixture(t, "gmail-5.7.26-authfailure.eml"))
	r = start(t, cfg, out2)
	waitFor(t, "the report after restart", func() bool { return count(out2.events(t), "report", nil) >= 1 })
	r.waitSeen(t, 5) // a wrongly repeated report or notice would be out by then
	r.stop()
	evs2 := out2.events(t)
	if n := count(evs2, "report", nil); n != 1 || count(evs2, "report", recipientIs("user0001@gmail.com")) != 1 {
		t.Errorf("after restart got %d reports, want only the new gmail one:\n%s", n, out2.String())
	}
	for _, e := range evs2 {
		if e["event"] == "incident" && strings.Contains(fmt.Sprint(e["key"]), "microsoft") {
			t.Errorf("the Outlook incident was notified again after restart: %v", e["kind"])
		}
	}
}

// Five bounces from one IP to Outlook inside the window are one incident with
// one first notice counting five; a bounce at another provider is its own.
func TestGroupingOneNoticeForFiveBounces(t *testing.T) {
	t.Parallel()
	srv := startIMAP(t)
	cfg := testConfig(srv.Addr, srv.User, srv.Password, filepath.Join(t.TempDir(), "bw.db"))
	cfg.HTTPAddr = ""
	cfg.GroupWait = 2 * time.Second
	base := string(fixture(t, "heteml-outlookjp-ratelimit-failed.eml"))
	for i := 0; i < 5; i++ {
		m := strings.ReplaceAll(base, "taro.example@outlook.jp", fmt.Sprintf("user%d.example@outlook.jp", i))
		srv.Append([]byte(m))
	}
	srv.Append(fixture(t, "gmail-5.7.26-authfailure.eml"))
	out := &syncBuffer{}
	r := start(t, cfg, out)
	waitFor(t, "two incident notices", func() bool { return count(out.events(t), "incident", nil) >= 2 })
	r.waitSeen(t, 6)
	r.stop()
	evs := out.events(t)
	if n := count(evs, "report", nil); n != 6 {
		t.Errorf("reports = %d, want 6", n)
	}
	var ms []map[string]any
	for _, e := range evs {
		if e["event"] == "incident" && strings.Contains(fmt.Sprint(e["key"]), "|microsoft|") {
			ms = append(ms, e)
		}
	}
	if len(ms) != 1 {
		t.Fatalf("Outlook notices = %d, want 1:\n%s", len(ms), out.String())
	}
	if ms[0]["count"] != float64(5) || ms[0]["kind"] != "first" {
		t.Errorf("Outlook notice = kind %v count %v, want first 5", ms[0]["kind"], ms[0]["count"])
	}
	text, _ := ms[0]["text"].(string)
	for i := 0; i < 5; i++ {
		if a := fmt.Sprintf("user%d.example@outlook.jp", i); !strings.Contains(text, a) {
			t.Errorf("notice does not name %s", a)
		}
	}
	if count(evs, "incident", nil) != 2 {
		t.Errorf("want exactly 2 notices (Outlook, Gmail):\n%s", out.String())
	}
}

// LoadConfig leaves the environment alone (main owns it).
func TestLoadConfigDoesNotChangeTheEnvironment(t *testing.T) {
	t.Setenv("BOUNCEWATCH_IMAP_TLS", "")
	if _, err := app.LoadConfig(); err != nil {
		t.Fatal(err)
	}
	if v, ok := os.LookupEnv("BOUNCEWATCH_IMAP_TLS"); !ok || v != "" {
		t.Errorf("LoadConfig changed BOUNCEWATCH_IMAP_TLS: %q, %v", v, ok)
	}
	for name, want := range map[string]bool{"BOUNCEWATCH_IMAP_TLS": true, "BOUNCEWATCH_GROUP_WAIT": true,
		"BOUNCEWATCH_HTTP_ADDR": false, "BOUNCEWATCH_NOPE": false, "HOME": false} {
		if got := app.EmptyMeansDefault(name); got != want {
			t.Errorf("EmptyMeansDefault(%s) = %v", name, got)
		}
	}
}

func TestConfigNeverShowsSecrets(t *testing.T) {
	c := app.Config{IMAPUsername: "office@example.jp", IMAPPassword: "hunter2-imap", SMTPPassword: "hunter2-smtp",
		SlackToken: "xoxb-secret", SlackAppToken: "xapp-secret", OAuthSecret: "oauth-secret", OAuthRefresh: "refresh-secret", Secret: "sign-secret"}
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("config", "cfg", c)
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c), buf.String()} {
		for _, secret := range []string{"hunter2", "xoxb-secret", "xapp-secret", "oauth-secret", "refresh-secret", "sign-secret"} {
			if strings.Contains(s, secret) {
				t.Errorf("secret %q shown: %s", secret, s)
			}
		}
		if !strings.Contains(s, "office@example.jp") {
			t.Errorf("non-secret field missing: %s", s)
		}
	}
}
