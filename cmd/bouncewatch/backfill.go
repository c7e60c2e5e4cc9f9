package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/app"
)

// cmdBackfill imports the mailbox's existing mail on day one: everything is
// recorded, nothing is notified one by one, and one digest is printed (and
// posted to Slack when configured).
func cmdBackfill(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("backfill", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sinceFlag := fs.String("since", "30d", "how far back the digest looks: a number of days (30d), hours (12h) or a date (2026-10-01)")
	quiet := fs.Bool("q", false, "no progress bar")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	since, err := parseSince(*sinceFlag, time.Now())
	if err != nil {
		fmt.Fprintln(stderr, "bouncewatch: --since:", err)
		return 2
	}
	ctx, stop := signalContext(stderr)
	defer stop()
	a, _, _, code := openApp(ctx, stdout, stderr, "warn")
	if a == nil {
		return code
	}
	var bar app.Progress
	if !*quiet {
		bar = func(done, total uint32) { fmt.Fprint(stderr, "\r"+progressBar(done, total, 30)) }
	}
	d, err := a.Backfill(ctx, since, bar)
	if bar != nil {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		fmt.Fprintln(stderr, "bouncewatch: backfill:", err)
		return 1
	}
	fmt.Fprint(stdout, d.Text())
	return 0
}

// progressBar draws "[#####.....] 120/400 (30%)".
func progressBar(done, total uint32, width int) string {
	if total == 0 {
		return "[" + strings.Repeat("#", width) + "] 0/0"
	}
	n := int(uint64(done) * uint64(width) / uint64(total))
	return fmt.Sprintf("[%s%s] %d/%d (%d%%)", strings.Repeat("#", n), strings.Repeat(".", width-n), done, total, uint64(done)*100/uint64(total))
}

// parseSince reads "30d", "12h", "90m" or "2026-10-01" relative to now.
func parseSince(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.ParseInLocation("2006-01-02", s, time.Local); err == nil {
		return t, nil
	}
	if strings.HasSuffix(s, "d") {
		n, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
		if err != nil || n < 0 {
			return time.Time{}, fmt.Errorf("%q is not a number of days", s)
		}
		return now.AddDate(0, 0, -n), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("%q is neither 30d, 12h nor a date like 2026-10-01", s)
	}
	return now.Add(-d), nil
}
