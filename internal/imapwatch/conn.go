package imapwatch

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// watchConn wraps the dialled TCP connection (below TLS) to
//   - enforce an inactivity timeout on reads while a response is awaited
//     (imapclient waits for the next response without any deadline, so a
//     silent peer would otherwise block forever), and
//   - record the time of the last bytes read and the bytes read in total.
//
// imapclient sets its own read deadlines through SetReadDeadline; the
// effective deadline is the earlier of the client's and ours.
type watchConn struct {
	net.Conn
	now func() time.Time

	mu        sync.Mutex
	clientRD  time.Time     // deadline asked for by the layers above
	idleLimit time.Duration // 0: disarmed

	lastRead  atomic.Int64 // unix nanoseconds
	bytesRead atomic.Int64
}

func newWatchConn(c net.Conn, now func() time.Time) *watchConn {
	w := &watchConn{Conn: c, now: now}
	w.lastRead.Store(now().UnixNano())
	return w
}

func (w *watchConn) Read(p []byte) (int, error) {
	w.mu.Lock()
	if w.idleLimit > 0 {
		w.applyLocked()
	}
	w.mu.Unlock()
	n, err := w.Conn.Read(p)
	if n > 0 {
		w.lastRead.Store(w.now().UnixNano())
		w.bytesRead.Add(int64(n))
	}
	return n, err
}

func (w *watchConn) SetReadDeadline(t time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.clientRD = t
	return w.applyLocked()
}

func (w *watchConn) SetDeadline(t time.Time) error {
	if err := w.SetReadDeadline(t); err != nil {
		return err
	}
	return w.Conn.SetWriteDeadline(t)
}

// arm makes every read (including one already blocked) fail if no bytes
// arrive within d. It applies until disarm.
func (w *watchConn) arm(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.idleLimit = d
	w.applyLocked()
}

// disarm removes the inactivity timeout (while IDLE is running).
func (w *watchConn) disarm() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.idleLimit = 0
	w.applyLocked()
}

func (w *watchConn) applyLocked() error {
	d := w.clientRD
	if w.idleLimit > 0 {
		// Deadlines are compared by the runtime against the wall clock.
		guard := time.Now().Add(w.idleLimit)
		if d.IsZero() || guard.Before(d) {
			d = guard
		}
	}
	return w.Conn.SetReadDeadline(d)
}

func (w *watchConn) lastActivity() time.Time {
	return time.Unix(0, w.lastRead.Load())
}
