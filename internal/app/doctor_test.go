package app_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/app"
	"github.com/bouncewatch/bouncewatch/internal/bounce"
	"github.com/bouncewatch/bouncewatch/internal/dnsresolver/dnstest"
	"github.com/bouncewatch/bouncewatch/internal/health"
	"github.com/bouncewatch/bouncewatch/internal/incident"
	"github.com/bouncewatch/bouncewatch/internal/store"
)

// Without --domain and --ip, doctor checks the mailbox's domain and the
// sending IPs of the recent bounces in the database.
func TestDoctorDefaultsFromMailboxAndStore(t *testing.T) {
	dns := dnstest.Start(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bw.db")
	db, err := store.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	// A bounce of 40 days ago names another IP: past the 30 days doctor
	// looks back, it is not checked.
	old := bounce.Analyze([]byte(strings.ReplaceAll(string(fixture(t, "outlook-s3140-blocked.eml")), "203.0.113.25", "198.51.100.77")))
	if old.SendingIP != "198.51.100.77" {
		t.Fatalf("old bounce's sending IP %q", old.SendingIP)
	}
	if _, err := db.CommitBatch(ctx, store.Batch{Mailbox: "INBOX", UIDValidity: 1, LastUID: 1, Now: now.Add(-40 * 24 * time.Hour),
		Timing: incident.Timing{}.WithDefaults(), Targets: []string{"stdout"},
		Messages: []store.Message{{UID: 1, Size: 100, MessageID: "b0@example.jp", Report: old, Raw: []byte("Subject: old\r\n\r\nx\r\n")}}}); err != nil {
		t.Fatal(err)
	}
	rep := bounce.Analyze(fixture(t, "outlook-s3140-blocked.eml"))
	if _, err := db.CommitBatch(ctx, store.Batch{Mailbox: "INBOX", UIDValidity: 1, LastUID: 2, Now: now,
		Timing: incident.Timing{}.WithDefaults(), Targets: []string{"stdout"},
		Messages: []store.Message{{UID: 2, Size: 100, MessageID: "b1@example.jp", Report: rep,
			Raw: []byte("Subject: bounce\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n" +
				"DKIM-Signature: v=1; a=rsa-sha256; d=example.co.jp; s=sel9;\r\n h=from; bh=x; b=y\r\nFrom: info@example.co.jp\r\n")}}}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	cfg := app.Config{IMAPUsername: "office@" + dnstest.BadDomain, DB: path, DNSServer: dns.Addr, DNSTimeout: 2 * time.Second}
	got, err := app.Doctor(ctx, cfg, app.DoctorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Domain != dnstest.BadDomain || strings.Join(got.IPs, ",") != dnstest.BadIP {
		t.Fatalf("doctor checked %s %v, want %s %s", got.Domain, got.IPs, dnstest.BadDomain, dnstest.BadIP)
	}
	if !health.Failed(got.Results) {
		t.Errorf("the bad office passes: %+v", got.Results)
	}
	var dkim []health.Result
	for _, r := range got.Results {
		if r.Check == health.CheckDKIM {
			dkim = append(dkim, r)
		}
	}
	if len(dkim) != 1 || dkim[0].Subject != "sel9._domainkey.example.co.jp" || dkim[0].Finding != health.DKIMNoKey {
		t.Errorf("DKIM from the returned original: %+v, want sel9 without a key", dkim)
	}

	// Checks are on for doctor even when notices have them off.
	cfg.DNSServer = app.DNSServerOff
	if _, err := app.Doctor(ctx, cfg, app.DoctorOptions{Domain: dnstest.HealthyDomain}); err != nil {
		t.Errorf("doctor with DNS_SERVER=off: %v", err)
	}
}

// Two IPs: the domain checks once, the IP checks for each.
func TestDoctorTwoIPs(t *testing.T) {
	dns := dnstest.Start(t)
	cfg := app.Config{DNSServer: dns.Addr}
	got, err := app.Doctor(context.Background(), cfg, app.DoctorOptions{Domain: dnstest.HealthyDomain,
		IPs: []string{dnstest.HealthyIP, dnstest.BadIP}})
	if err != nil {
		t.Fatal(err)
	}
	n := map[health.Check]int{}
	for _, r := range got.Results {
		n[r.Check]++
	}
	if n[health.CheckSPF] != 2 || n[health.CheckPTR] != 2 || n[health.CheckDMARC] != 1 || n[health.CheckMX] != 1 || n[health.CheckDNSBL] != 9 {
		t.Errorf("checks per kind %v, want spf 2, ptr 2, dmarc 1, mx 1, dnsbl 4+4+1", n)
	}
}

func TestDNSBLConfig(t *testing.T) {
	cfg := app.Config{DNSBL: "secretkey.zen.dq.spamhaus.net"}
	if s := cfg.String(); strings.Contains(s, "secretkey") {
		t.Errorf("the configuration shows the DQS key: %s", s)
	}
	cfg = testConfig("127.0.0.1:1", "u@example.jp", "p", filepath.Join(t.TempDir(), "bw.db"))
	cfg.DNSServer, cfg.DNSBL = "", "secretkey.zen.dq.spamhaus.net, not a zone"
	_, err := app.New(context.Background(), cfg, app.Options{})
	if err == nil || !strings.Contains(err.Error(), "BOUNCEWATCH_DNSBL") || strings.Contains(err.Error(), "secretkey") {
		t.Errorf("bad DNSBL: %v, want an error naming the variable but not the key", err)
	}
	cfg.DNSBL, cfg.DNSServer = "", "no-port"
	if _, err := app.New(context.Background(), cfg, app.Options{}); err == nil || !strings.Contains(err.Error(), "BOUNCEWATCH_DNS_SERVER") {
		t.Errorf("bad DNS server: %v", err)
	}
}
