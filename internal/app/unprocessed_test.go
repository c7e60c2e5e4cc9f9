package app_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bouncewatch/bouncewatch/internal/store"
)

// refuseRecipient makes the database at path refuse to record addr as a
// recipient, as any rule of the database that a message breaks would: the
// message is then recorded as not processed and passed over.
func refuseRecipient(t *testing.T, path, addr string) {
	t.Helper()
	db, err := store.Open(context.Background(), path, nil) // the schema
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	// A trigger takes no parameters; addr is a test's own constant.
	if _, err := raw.Exec(`CREATE TRIGGER refuse BEFORE INSERT ON recipients WHEN NEW.address = '` + addr + `'
		BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`); err != nil {
		t.Fatal(err)
	}
}

// A message that cannot be recorded as it is does not stop the mailbox and
// is counted in /metrics (bouncewatch_unprocessed_total), next to the
// messages seen.
func TestUnprocessedCountedInMetrics(t *testing.T) {
	t.Parallel()
	srv := startIMAP(t)
	dbPath := filepath.Join(t.TempDir(), "bw.db")
	refuseRecipient(t, dbPath, "user0001@gmail.com")
	cfg := testConfig(srv.Addr, srv.User, srv.Password, dbPath)
	cfg.HTTPAddr = freeAddr(t)
	srv.Append(fixture(t, "gmail-5.7.26-authfailure.eml"))
	srv.Append(fixture(t, "postfix-userunknown.eml"))
	out := &syncBuffer{}
	r := start(t, cfg, out)
	r.waitSeen(t, 2)
	if st := r.stats(t); st.Reports != 1 || st.OpenIncidents != 1 {
		t.Errorf("%d reports, %d open incidents; want the second bounce recorded and grouped", st.Reports, st.OpenIncidents)
	}
	metrics := "http://" + cfg.HTTPAddr + "/metrics"
	waitFor(t, "/metrics", func() bool { c, _ := get(t, metrics); return c == 200 })
	_, body := get(t, metrics)
	for _, want := range []string{"\nbouncewatch_unprocessed_total 1\n", "\nbouncewatch_messages_seen_total 2\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q:\n%s", strings.TrimSpace(want), grepLines(body, "bouncewatch_"))
		}
	}
	// The message not recorded is neither counted as a bounce nor reported.
	if got := grepLines(body, "bouncewatch_bounces_total{"); strings.Count(got, "\n") != 0 || strings.Contains(got, "gmail") {
		t.Errorf("bounces counted:\n%s\nwant only the recorded one", got)
	}
	r.stop() // the watcher has printed all it will
	if n := count(out.events(t), "report", nil); n != 1 {
		t.Errorf("%d reports printed, want 1", n)
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
