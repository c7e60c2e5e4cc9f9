package dnsresolver

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/dnsresolver/dnstest"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestLookupsAndCacheForTTL(t *testing.T) {
	srv := dnstest.Start(t)
	clk := &fakeClock{t: time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)}
	r, err := New(srv.Addr, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	txt, err := r.LookupTXT(ctx, "Healthy.Example.com")
	if err != nil || len(txt) != 1 || txt[0] != "v=spf1 ip4:198.51.100.0/24 -all" {
		t.Fatalf("TXT = %q, %v", txt, err)
	}
	n := srv.Queries()
	if _, err := r.LookupTXT(ctx, "healthy.example.com."); err != nil {
		t.Fatal(err)
	}
	if srv.Queries() != n {
		t.Error("a cached answer was asked again within its TTL")
	}
	clk.add(301 * time.Second)
	if _, err := r.LookupTXT(ctx, "healthy.example.com"); err != nil {
		t.Fatal(err)
	}
	if srv.Queries() != n+1 {
		t.Errorf("after the TTL: %d queries, want %d", srv.Queries(), n+1)
	}

	// NXDOMAIN is an IsNotFound error, cached for the SOA's negative TTL (60s).
	_, err = r.LookupTXT(ctx, "_dmarc.example.co.jp")
	var de *net.DNSError
	if !errors.As(err, &de) || !de.IsNotFound {
		t.Fatalf("NXDOMAIN gave %v, want IsNotFound", err)
	}
	n = srv.Queries()
	r.LookupTXT(ctx, "_dmarc.example.co.jp")
	clk.add(61 * time.Second)
	r.LookupTXT(ctx, "_dmarc.example.co.jp")
	if srv.Queries() != n+1 {
		t.Errorf("negative caching: %d queries, want %d", srv.Queries()-n, 1)
	}

	// NODATA (the name has other records) is IsNotFound too.
	if _, err := r.LookupMX(ctx, "mail.healthy.example.com"); !errors.As(err, &de) || !de.IsNotFound {
		t.Errorf("NODATA gave %v, want IsNotFound", err)
	}

	mx, err := r.LookupMX(ctx, dnstest.M365Domain)
	if err != nil || len(mx) != 1 || mx[0].Host != "partner-example-com.mail.protection.outlook.com." {
		t.Errorf("MX = %v, %v", mx, err)
	}
	names, err := r.LookupAddr(ctx, dnstest.HealthyIP)
	if err != nil || len(names) != 1 || names[0] != dnstest.HealthyPTR+"." {
		t.Errorf("PTR = %v, %v", names, err)
	}
	ips, err := r.LookupIPAddr(ctx, dnstest.HealthyPTR)
	if err != nil || len(ips) != 1 || ips[0].IP.String() != dnstest.HealthyIP {
		t.Errorf("A = %v, %v", ips, err)
	}
	if _, err := r.LookupIPAddr(ctx, "nothing.example.org"); !errors.As(err, &de) || !de.IsNotFound {
		t.Errorf("A of an unknown name gave %v", err)
	}
}

// A server that never answers gives a timeout error when the context ends.
func TestDeadServerTimesOut(t *testing.T) {
	r, err := New(dnstest.Blackhole(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = r.LookupTXT(ctx, "example.com")
	var de *net.DNSError
	if !errors.As(err, &de) || !de.IsTimeout || !de.Temporary() {
		t.Fatalf("dead server gave %#v, want a temporary timeout", err)
	}
	// A failure is not cached: a later lookup asks again (and fails again).
	ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if _, err := r.LookupTXT(ctx2, "example.com"); err == nil {
		t.Fatal("second lookup succeeded")
	}
}

func TestSystemResolverFromResolvConf(t *testing.T) {
	p := filepath.Join(t.TempDir(), "resolv.conf")
	os.WriteFile(p, []byte("# test\nnameserver 192.0.2.53\nnameserver 2001:db8::53\n"), 0o644)
	r, err := newResolver("", p, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := r.Servers()
	if len(got) != 2 || got[0] != "192.0.2.53:53" || got[1] != "[2001:db8::53]:53" {
		t.Errorf("servers = %v", got)
	}
	if _, err := newResolver("", filepath.Join(t.TempDir(), "none"), nil); err == nil {
		t.Error("a missing resolv.conf was accepted")
	}
	if _, err := New("192.0.2.53", nil); err == nil {
		t.Error("a server without a port was accepted")
	}
}

func TestInvalidName(t *testing.T) {
	r, err := New("127.0.0.1:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.LookupTXT(context.Background(), "bad name..example"); err == nil {
		t.Error("an invalid name was looked up")
	}
}
