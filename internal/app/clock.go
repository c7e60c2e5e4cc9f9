package app

import "time"

// Clock is the time source of the app's loops: what they read as now and
// the timers they sleep on come from the same clock, so a test that moves
// one moves both. Options.Clock nil means the system clock (which
// testing/synctest fakes inside a bubble).
type Clock interface {
	Now() time.Time
	// NewTimer returns a started timer that fires once, d from now.
	NewTimer(d time.Duration) Timer
}

// Timer is a timer of a Clock, as time.Timer.
type Timer interface {
	C() <-chan time.Time
	// Reset makes the timer fire d from now, whether or not it fired or
	// was stopped (with Go 1.23+ timer semantics: no stale value is left
	// in C).
	Reset(d time.Duration)
	Stop()
}

// systemClock is the system clock; now overrides Now when set
// (Options.Now, kept for embedders that only shift the time).
type systemClock struct{ now func() time.Time }

func (c systemClock) Now() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

func (systemClock) NewTimer(d time.Duration) Timer { return sysTimer{time.NewTimer(d)} }

type sysTimer struct{ t *time.Timer }

func (t sysTimer) C() <-chan time.Time   { return t.t.C }
func (t sysTimer) Reset(d time.Duration) { t.t.Reset(d) }
func (t sysTimer) Stop()                 { t.t.Stop() }

// sleep waits d on clock c; false when ctx ended first.
func sleep(ctx interface{ Done() <-chan struct{} }, c Clock, d time.Duration) bool {
	t := c.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C():
		return true
	}
}
