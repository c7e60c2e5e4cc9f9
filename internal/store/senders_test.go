package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/bounce"
)

func TestRecentSendingIPs(t *testing.T) {
	db, _ := openTest(t)
	old := t0.Add(-40 * 24 * time.Hour)
	mustCommit(t, db, batch(1, old, bounceMsg(1, "192.0.2.9", "google", bounce.ReasonBlocked, "a@gmail.com")))
	mustCommit(t, db, batch(5, t0,
		bounceMsg(2, "198.51.100.7", "google", bounce.ReasonBlocked, "b@gmail.com"),
		bounceMsg(3, "203.0.113.25", "microsoft", bounce.ReasonBlocked, "c@outlook.jp"),
		bounceMsg(4, "203.0.113.25", "microsoft", bounce.ReasonBlocked, "d@outlook.jp"),
		plainMsg(5)))
	got, err := db.RecentSendingIPs(context.Background(), t0.Add(-30*24*time.Hour), 5)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "203.0.113.25,198.51.100.7" {
		t.Errorf("RecentSendingIPs = %v, want the two recent IPs, most frequent first", got)
	}
	if got, _ := db.RecentSendingIPs(context.Background(), t0.Add(-30*24*time.Hour), 1); len(got) != 1 {
		t.Errorf("limit 1 gave %v", got)
	}
}
