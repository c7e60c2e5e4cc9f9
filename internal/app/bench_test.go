package app_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/app"
	"github.com/bouncewatch/bouncewatch/internal/imapwatch/dovecottest"
	"github.com/bouncewatch/bouncewatch/internal/store"
)

// BenchmarkDovecotAppendToReport measures, against Dovecot, the time from the
// completion of an IMAP APPEND of a bounce to its report being committed by a running
// `bouncewatch run` (IDLE), and reports the median and p99. It also reports
// the process's resident memory while watching.
//
//	BOUNCEWATCH_DOVECOT=1 go test -run '^$' -bench AppendToReport -benchtime 200x ./internal/app
func BenchmarkDovecotAppendToReport(b *testing.B) {
	srv := dovecottest.Start(b, nil)
	db := filepath.Join(b.TempDir(), "bw.db")
	env := []string{
		"BOUNCEWATCH_IMAP_ADDR=" + srv.Addr, "BOUNCEWATCH_IMAP_TLS=none",
		"BOUNCEWATCH_IMAP_USERNAME=" + srv.User, "BOUNCEWATCH_IMAP_PASSWORD=" + srv.Password,
		"BOUNCEWATCH_DB=" + db, "BOUNCEWATCH_NOTIFY=stdout", "BOUNCEWATCH_HTTP_ADDR=",
		"BOUNCEWATCH_GROUP_WAIT=1h", "BOUNCEWATCH_MAX_AGE=0",
	}
	p := runProcess(b, env)
	st, err := store.Open(context.Background(), db, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	reports := func() int64 {
		s, err := st.Stats(context.Background())
		if err != nil {
			return -1
		}
		return s.Reports
	}
	// Warm up: the first message also creates the mailbox state.
	srv.Append(b, "INBOX", bounceTo(b, 0))
	waitFor(b, "the first report", func() bool { return reports() == 1 })

	var lat []time.Duration
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		want := int64(i + 1)
		msg := bounceTo(b, i)
		srv.Append(b, "INBOX", msg)
		start := time.Now() // APPEND completed: the message is in the mailbox
		for reports() < want {
			time.Sleep(2 * time.Millisecond)
			if time.Since(start) > 30*time.Second {
				b.Fatalf("report %d not recorded", i)
			}
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	if rss, err := vmRSS(p.cmd.Process.Pid); err == nil {
		b.ReportMetric(float64(rss)/1024, "rss-MB")
	}
}

// vmRSS reads a process's resident set size in KiB from /proc.
func vmRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				return strconv.ParseInt(f[1], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS")
}

// BenchmarkDovecotCatchUp10k measures the whole pipeline (watcher, triage,
// SQLite) catching up on a 10,000-message mailbox with 1% bounces against
// Dovecot, and reports the bytes fetched beyond the bounces themselves per
// ordinary message (the fetch economy: headers only for those).
//
//	BOUNCEWATCH_DOVECOT=1 go test -run '^$' -bench CatchUp10k -benchtime 1x ./internal/app
func BenchmarkDovecotCatchUp10k(b *testing.B) {
	srv := dovecottest.Start(b, nil)
	const n = 10000
	ordinary := fixture(b, "neg-business-iso2022jp.eml")
	var msgs [][]byte
	var bounceBytes int64
	for i := 0; i < n; i++ {
		if i%100 == 0 {
			m := bounceTo(b, i)
			bounceBytes += int64(len(m))
			msgs = append(msgs, m)
			continue
		}
		msgs = append(msgs, []byte(strings.Replace(string(ordinary), "Message-ID: <", fmt.Sprintf("Message-ID: <n%d.", i), 1)))
	}
	srv.Fill(b, "INBOX", msgs)
	srv.Count(b, "INBOX") // let Dovecot index the maildir before timing
	b.ResetTimer()
	for b.Loop() {
		cfg := testConfig(srv.Addr, srv.User, srv.Password, filepath.Join(b.TempDir(), "bw.db"))
		cfg.HTTPAddr = ""
		ctx, cancel := context.WithCancel(context.Background())
		a, err := app.New(ctx, cfg, app.Options{Stdout: &syncBuffer{}})
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		for a.Watcher().Status().MessagesDelivered < n {
			time.Sleep(5 * time.Millisecond)
		}
		st := a.Watcher().Status()
		cancel()
		<-done
		b.ReportMetric(float64(st.BytesFetched-bounceBytes)/float64(n-n/100), "extra-B/ordinary-msg")
		b.ReportMetric(float64(st.BytesFetched)/1e6, "fetched-MB")
	}
}
