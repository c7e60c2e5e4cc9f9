// Package dovecottest starts a throwaway Dovecot IMAP server for end-to-end
// tests. It owns the server's temporary directory (config, passwd-file,
// maildirs, logs) and process; everything is removed when the test ends.
//
// Tests using it run only when BOUNCEWATCH_DOVECOT=1 is set (otherwise Start
// skips the test). The machine must have Dovecot installed (Debian:
// dovecot-imapd, which also creates the dovecot and dovenull users) and the
// test must run as root, because Dovecot drops privileges to those users and
// runs mail processes as "nobody".
//
// The server listens on 127.0.0.1 without TLS and accepts plain-text
// authentication there: for tests only.
package dovecottest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// EnvVar enables Dovecot tests when set to "1".
const EnvVar = "BOUNCEWATCH_DOVECOT"

// Default credentials of the test user.
const (
	User     = "office@example.jp"
	Password = "dovecot-test-password"
)

// Options tune the server. The zero value is fine.
type Options struct {
	// ExtraConfig is appended to dovecot.conf (e.g. "imap_capability = ..."
	// to hide IDLE).
	ExtraConfig string
}

// Server is a running Dovecot.
type Server struct {
	// Addr is host:port of the plain-text IMAP listener.
	Addr string
	// User and Password log in.
	User, Password string

	dir  string
	conf string
	uid  int
	gid  int
	cmd  *exec.Cmd
	done chan error
	seq  atomic.Int64
}

// Enabled reports whether Dovecot tests were requested.
func Enabled() bool { return os.Getenv(EnvVar) == "1" }

// Start starts Dovecot and stops it in t.Cleanup. It skips the test when
// BOUNCEWATCH_DOVECOT is not 1, and fails it when Dovecot cannot start.
func Start(t testing.TB, opts *Options) *Server {
	t.Helper()
	if !Enabled() {
		t.Skipf("set %s=1 to run tests against Dovecot", EnvVar)
	}
	if opts == nil {
		opts = &Options{}
	}
	if os.Geteuid() != 0 {
		t.Fatalf("dovecottest: must run as root (Dovecot drops privileges)")
	}
	bin, err := exec.LookPath("dovecot")
	if err != nil {
		t.Fatalf("dovecottest: dovecot not installed (apt-get install dovecot-imapd): %v", err)
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("dovecottest: %v", err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)

	// Not t.TempDir: its parent is 0700, and Dovecot's unprivileged
	// processes must traverse the path.
	dir, err := os.MkdirTemp("", "dovecottest-")
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("DOVECOTTEST_KEEP") == "" {
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := &Server{User: User, Password: Password, dir: dir, conf: filepath.Join(dir, "dovecot.conf"), uid: uid, gid: gid}
	for _, d := range []string{"run", "state", "mail", "home"} {
		p := filepath.Join(dir, d)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"mail", "home"} {
		if err := os.Chown(filepath.Join(dir, d), uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	s.writePasswd(t, Password)

	port := freePort(t)
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	conf := fmt.Sprintf(`# dovecottest: throwaway test server
base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
instance_name = dovecottest-%[2]d
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:%[1]s/mail/%%n
mail_fsync = never
mail_uid = %[3]d
mail_gid = %[4]d
first_valid_uid = 1
first_valid_gid = 1
default_internal_user = dovecot
default_login_user = dovenull
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[1]s/passwd
}
userdb {
  driver = static
  args = uid=%[3]d gid=%[4]d home=%[1]s/home/%%n
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[2]d
  }
  inet_listener imaps {
    port = 0
  }
}
namespace inbox {
  inbox = yes
  separator = /
}
%[5]s
`, dir, port, uid, gid, opts.ExtraConfig)
	if err := os.WriteFile(s.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}

	s.cmd = exec.Command(bin, "-F", "-c", s.conf)
	var out bytes.Buffer
	s.cmd.Stdout = &out
	s.cmd.Stderr = &out
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("dovecottest: start: %v", err)
	}
	s.done = make(chan error, 1)
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(func() { s.stop(t) })

	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case err := <-s.done:
			t.Fatalf("dovecottest: dovecot exited: %v\n%s\n%s", err, out.String(), s.Log())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("dovecottest: dovecot did not listen on %s\n%s", s.Addr, s.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s
}

func (s *Server) stop(t testing.TB) {
	if s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(3 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func (s *Server) writePasswd(t testing.TB, password string) {
	t.Helper()
	p := filepath.Join(s.dir, "passwd")
	tmp := p + ".tmp"
	line := fmt.Sprintf("%s:{PLAIN}%s::::::\n", User, password)
	if err := os.WriteFile(tmp, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
}

// SetPassword changes the test user's password (Dovecot rereads the
// passwd-file when it changes). s.Password keeps the original.
func (s *Server) SetPassword(t testing.TB, password string) {
	t.Helper()
	s.writePasswd(t, password)
	// passwd-file is reread on mtime change; make sure the mtime moves.
	future := time.Now().Add(time.Duration(s.seq.Add(1)) * time.Second)
	os.Chtimes(filepath.Join(s.dir, "passwd"), future, future)
	// Dovecot notices the change on a later lookup: wait until it does.
	deadline := time.Now().Add(10 * time.Second)
	for !s.loginWorks(password) {
		if time.Now().After(deadline) {
			t.Fatalf("dovecottest: new password not in effect")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *Server) loginWorks(password string) bool {
	c, err := imapclient.DialInsecure(s.Addr, nil)
	if err != nil {
		return false
	}
	defer c.Close()
	return c.Login(User, password).Wait() == nil
}

// Log returns Dovecot's log so far (for failure messages).
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "dovecot.log"))
	return string(b)
}

// Doveadm runs doveadm with this server's config and returns its output.
func (s *Server) Doveadm(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command("doveadm", append([]string{"-c", s.conf}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("doveadm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Kick disconnects every session of the test user (doveadm kick) and
// returns how many were kicked.
func (s *Server) Kick(t testing.TB) int {
	t.Helper()
	out, err := exec.Command("doveadm", "-c", s.conf, "kick", User).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "no users kicked") {
			return 0
		}
		t.Fatalf("doveadm kick: %v\n%s", err, out)
	}
	n := 0
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, User) {
			n++
		}
	}
	return max(n, 1)
}

// SetUIDValidity changes a mailbox's UIDVALIDITY, as a restore from backup
// or a server migration does.
func (s *Server) SetUIDValidity(t testing.TB, mailbox string, v uint32) {
	t.Helper()
	s.Doveadm(t, "mailbox", "update", "-u", User, "--uid-validity", strconv.FormatUint(uint64(v), 10), mailbox)
}

// Client returns a logged-in client, closed when the test ends.
func (s *Server) Client(t testing.TB) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(s.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(User, Password).Wait(); err != nil {
		t.Fatalf("dovecottest: login: %v", err)
	}
	return c
}

// Append stores msg in mailbox over IMAP (so IDLE sessions see it) and
// returns its UID.
func (s *Server) Append(t testing.TB, mailbox string, msg []byte) uint32 {
	t.Helper()
	c := s.Client(t)
	defer func() { c.Logout().Wait() }()
	return appendMsg(t, c, mailbox, msg)
}

func appendMsg(t testing.TB, c *imapclient.Client, mailbox string, msg []byte) uint32 {
	t.Helper()
	cmd := c.Append(mailbox, int64(len(msg)), nil)
	if _, err := cmd.Write(msg); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := cmd.Wait()
	if err != nil {
		t.Fatalf("dovecottest: append to %s: %v", mailbox, err)
	}
	return uint32(data.UID)
}

// Create creates a mailbox.
func (s *Server) Create(t testing.TB, mailbox string) {
	t.Helper()
	c := s.Client(t)
	defer func() { c.Logout().Wait() }()
	if err := c.Create(mailbox, nil).Wait(); err != nil {
		t.Fatalf("dovecottest: create %s: %v", mailbox, err)
	}
}

// Rename renames a mailbox.
func (s *Server) Rename(t testing.TB, from, to string) {
	t.Helper()
	c := s.Client(t)
	defer func() { c.Logout().Wait() }()
	if err := c.Rename(from, to, nil).Wait(); err != nil {
		t.Fatalf("dovecottest: rename %s to %s: %v", from, to, err)
	}
}

// Count returns the number of messages in mailbox.
func (s *Server) Count(t testing.TB, mailbox string) uint32 {
	t.Helper()
	c := s.Client(t)
	defer func() { c.Logout().Wait() }()
	st, err := c.Status(mailbox, &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil {
		t.Fatalf("dovecottest: status %s: %v", mailbox, err)
	}
	return *st.NumMessages
}

// Flags returns the flags of every message in mailbox by UID.
func (s *Server) Flags(t testing.TB, mailbox string) map[uint32][]imap.Flag {
	t.Helper()
	c := s.Client(t)
	defer func() { c.Logout().Wait() }()
	if _, err := c.Select(mailbox, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
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

// Fill writes msgs straight into mailbox's maildir "new" directory: the
// fastest way to create a large backlog (Dovecot assigns UIDs, in file name
// order, on its next look). mailbox "INBOX" or a top-level folder name.
func (s *Server) Fill(t testing.TB, mailbox string, msgs [][]byte) {
	t.Helper()
	root := filepath.Join(s.dir, "mail", strings.SplitN(User, "@", 2)[0])
	if mailbox != "INBOX" {
		root = filepath.Join(root, "."+mailbox)
	}
	for _, d := range []string{root, filepath.Join(root, "new"), filepath.Join(root, "cur"), filepath.Join(root, "tmp")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		os.Chown(d, s.uid, s.gid)
	}
	base := time.Now().Unix()
	for i, m := range msgs {
		name := fmt.Sprintf("%d.M%08dP%d.dovecottest,S=%d", base, int(s.seq.Add(1))*1_000_000+i, os.Getpid(), len(m))
		// Maildir delivery: write and chown in tmp/, then rename into new/, so
		// Dovecot (which may move new/ files to cur/ at any time) never sees
		// a file half-written or owned by root.
		tmp := filepath.Join(root, "tmp", name)
		if err := os.WriteFile(tmp, m, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(tmp, s.uid, s.gid); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(root, "new", name)); err != nil {
			t.Fatal(err)
		}
	}
}
