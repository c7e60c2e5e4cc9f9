package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/imapwatch/dovecottest"
	"github.com/bouncewatch/bouncewatch/internal/store"
)

// buildBinary builds cmd/bouncewatch once per test binary.
var buildOnce = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "bw-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "bouncewatch")
	cmd := exec.Command("go", "build", "-o", bin, "../../cmd/bouncewatch")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// proc is a `bouncewatch run` process whose stdout lines are collected.
type proc struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
	done  chan struct{}
}

func runProcess(t testing.TB, env []string) *proc {
	t.Helper()
	bin, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: exec.Command(bin, "run"), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = io.Discard
	if testing.Verbose() {
		p.cmd.Stderr = os.Stderr
	}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 8<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
		}
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.kill() })
	return p
}

func (p *proc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func (p *proc) term(t *testing.T) {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("bouncewatch did not stop on SIGTERM")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code after SIGTERM = %d", code)
	}
}

// reports returns the recipients of the "report" events seen so far.
func (p *proc) reports(t testing.TB) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, l := range p.lines {
		var e struct {
			Event      string `json:"event"`
			Recipients []struct {
				Address string `json:"address"`
			} `json:"recipients"`
		}
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Errorf("stdout line is not JSON: %q", l)
			continue
		}
		if e.Event == "report" {
			for _, r := range e.Recipients {
				out = append(out, r.Address)
			}
		}
	}
	return out
}

func bounceTo(t testing.TB, i int) []byte {
	base := string(fixture(t, "postfix-userunknown.eml"))
	return []byte(strings.ReplaceAll(base, "kondo.example@partner.example.org", fmt.Sprintf("n%04d.example@partner.example.org", i)))
}

// As a new user would: point the env vars at a Dovecot mailbox, start
// `bouncewatch run`, deliver bounces and ordinary mail, kill -9 in the middle
// of a backlog, restart, deliver more: every bounce reported, none twice.
func TestDovecotRunKill9Restart(t *testing.T) {
	t.Parallel()
	srv := dovecottest.Start(t, nil)
	db := filepath.Join(t.TempDir(), "bw.db")
	env := []string{
		"BOUNCEWATCH_IMAP_ADDR=" + srv.Addr, "BOUNCEWATCH_IMAP_TLS=none",
		"BOUNCEWATCH_IMAP_USERNAME=" + srv.User, "BOUNCEWATCH_IMAP_PASSWORD=" + srv.Password,
		"BOUNCEWATCH_DB=" + db, "BOUNCEWATCH_NOTIFY=stdout", "BOUNCEWATCH_HTTP_ADDR=",
		"BOUNCEWATCH_GROUP_WAIT=1h", "BOUNCEWATCH_IMAP_DISPOSITION=flag", "BOUNCEWATCH_MAX_AGE=0",
	}
	p := runProcess(t, env)
	srv.Append(t, "INBOX", bounceTo(t, 0))
	srv.Append(t, "INBOX", fixture(t, "neg-business-iso2022jp.eml"))
	waitFor(t, "first report", func() bool { return len(p.reports(t)) == 1 })

	// A backlog arrives; kill -9 while it is being worked through.
	const n = 600
	var msgs [][]byte
	for i := 1; i <= n; i++ {
		msgs = append(msgs, bounceTo(t, i))
		if i%3 == 0 {
			msgs = append(msgs, fixture(t, "neg-newsletter.eml"))
		}
	}
	srv.Fill(t, "INBOX", msgs)
	waitFor(t, "part of the backlog", func() bool { return len(p.reports(t)) > 20 })
	p.kill()
	before := p.reports(t)
	if len(before) >= n+1 {
		t.Logf("the whole backlog was done before the kill (%d reports)", len(before))
	}

	p2 := runProcess(t, env)
	srv.Append(t, "INBOX", bounceTo(t, n+1))
	// UIDs are worked through in order: once the bounce appended after the
	// restart is reported, every earlier message has been recorded. (Stdout
	// is best-effort: a batch committed just before the kill is not printed
	// again, so it cannot be waited on. Its flags are: they are recorded
	// with the batch and applied when the next session starts.)
	last := fmt.Sprintf("n%04d.example@partner.example.org", n+1)
	waitFor(t, "the bounce after the restart", func() bool { return slices.Contains(p2.reports(t), last) })
	flagged := func() int {
		n := 0
		for _, fl := range srv.Flags(t, "INBOX") {
			for _, f := range fl {
				if string(f) == "$Bounce" {
					n++
				}
			}
		}
		return n
	}
	waitFor(t, "every bounce flagged", func() bool { return flagged() >= n+2 })
	p2.term(t)

	seen := map[string]int{}
	for _, a := range append(before, p2.reports(t)...) {
		seen[a]++
	}
	// A batch interrupted after its commit but before stdout was flushed is
	// not printed again (stdout is best-effort); everything else must be
	// there exactly once. The store is the source of truth: check it too.
	for i := 0; i <= n+1; i++ {
		a := fmt.Sprintf("n%04d.example@partner.example.org", i)
		if seen[a] > 1 {
			t.Errorf("%s reported %d times", a, seen[a])
		}
	}
	missing := 0
	for i := 0; i <= n+1; i++ {
		if seen[fmt.Sprintf("n%04d.example@partner.example.org", i)] == 0 {
			missing++
		}
	}
	// At most the one batch that was committed when the process died can be
	// missing from stdout; none may be missing from the store.
	if missing > 200 {
		t.Errorf("%d bounces never printed", missing)
	}
	db2, err := store.Open(context.Background(), db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	st, err := db2.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Reports != n+2 {
		t.Errorf("store has %d reports, want %d (one per bounce, none twice)", st.Reports, n+2)
	}
	if want := int64(n + 2 + n/3 + 1); st.MessagesSeen != want {
		t.Errorf("store saw %d messages, want %d", st.MessagesSeen, want)
	}
	// Ordinary mail untouched; every bounce flagged, also those of the batch
	// committed when the process died.
	if got := flagged(); got != n+2 {
		t.Errorf("flagged %d messages, want %d bounces only", got, n+2)
	}
}
