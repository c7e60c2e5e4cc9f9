package health_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/dnsresolver"
	"github.com/bouncewatch/bouncewatch/internal/dnsresolver/dnstest"
	"github.com/bouncewatch/bouncewatch/internal/health"
)

// BenchmarkRun is one notice's checks (SPF with an include, DMARC, PTR, five
// lists) against the in-process DNS server over loopback UDP: "cold" with an
// empty cache each time, "cached" within the answers' TTL.
func BenchmarkRun(b *testing.B) {
	srv := dnstest.Start(b)
	t := health.Target{Domain: dnstest.BadDomain, IP: netip.MustParseAddr(dnstest.BadIP)}
	b.Run("cold", func(b *testing.B) {
		start := srv.Queries()
		for b.Loop() {
			r, _ := dnsresolver.New(srv.Addr, nil)
			c := &health.Checker{Resolver: r, Timeout: 2 * time.Second}
			if rs := c.Run(context.Background(), t); len(rs) != 8 {
				b.Fatalf("%d results", len(rs))
			}
		}
		b.ReportMetric(float64(srv.Queries()-start)/float64(b.N), "queries/op")
	})
	// A resolver that never answers: one notice's checks under a 100 ms
	// deadline (as App runs them) take the deadline, not a lookup's chain.
	b.Run("dead-100ms", func(b *testing.B) {
		r, _ := dnsresolver.New(dnstest.Blackhole(b), nil)
		c := &health.Checker{Resolver: r, Timeout: 100 * time.Millisecond}
		for b.Loop() {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			c.Run(ctx, t)
			cancel()
		}
	})
	b.Run("cached", func(b *testing.B) {
		r, _ := dnsresolver.New(srv.Addr, nil)
		c := &health.Checker{Resolver: r, Timeout: 2 * time.Second}
		c.Run(context.Background(), t)
		for b.Loop() {
			c.Run(context.Background(), t)
		}
	})
}

// BenchmarkEnvelopeSenderDomain reads the envelope sender of a Postfix
// bounce with its returned original.
func BenchmarkEnvelopeSenderDomain(b *testing.B) {
	raw := []byte("Return-Path: <>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n" +
		"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n" +
		"Final-Recipient: rfc822; user@example.com\r\nAction: failed\r\nStatus: 5.7.1\r\n\r\n" +
		"--b\r\nContent-Type: message/rfc822\r\n\r\nReturn-Path: <info@example.co.jp>\r\nFrom: info@example.co.jp\r\nSubject: x\r\n\r\nbody\r\n--b--\r\n")
	for b.Loop() {
		if health.EnvelopeSenderDomain(raw) != "example.co.jp" {
			b.Fatal("not found")
		}
	}
}
