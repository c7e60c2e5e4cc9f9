package app_test

import (
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bouncewatch/bouncewatch/internal/demo"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// /healthz answers, /readyz says ready once the IMAP session is up and the
// database takes writes (and not after the server went away), /metrics
// exposes the operations metrics.
func TestHTTPHealthReadyMetrics(t *testing.T) {
	t.Parallel()
	srv, err := demo.StartServer()
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(srv.Addr, srv.User, srv.Password, filepath.Join(t.TempDir(), "bw.db"))
	cfg.HTTPAddr = freeAddr(t)
	base := "http://" + cfg.HTTPAddr
	srv.Append(fixture(t, "heteml-outlookjp-ratelimit-failed.eml"))
	out := &syncBuffer{}
	r := start(t, cfg, out)
	waitFor(t, "/healthz", func() bool { c, _ := get(t, base+"/healthz"); return c == 200 })
	waitFor(t, "/readyz ready", func() bool { c, _ := get(t, base+"/readyz"); return c == 200 })
	waitFor(t, "the report and its notice", func() bool { return count(out.events(t), "incident", nil) == 1 })
	r.waitSeen(t, 1) // the notice recorded as sent (and counted)
	code, body := get(t, base+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`bouncewatch_bounces_total{kind="bounce",provider="microsoft",reason="badreputation"} 1`,
		"bouncewatch_messages_seen_total 1", "bouncewatch_open_incidents 1", "bouncewatch_outbox_backlog",
		"bouncewatch_imap_connected 1", "bouncewatch_imap_reconnects_total", "bouncewatch_imap_last_activity_age_seconds",
		`bouncewatch_notifications_total{result="ok",target="stdout"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	srv.Close() // the mailbox server goes away: not ready any more
	waitFor(t, "/readyz not ready", func() bool { c, _ := get(t, base+"/readyz"); return c == 503 })
}
