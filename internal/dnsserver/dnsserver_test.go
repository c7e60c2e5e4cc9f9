package dnsserver

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
)

func resolver(addr, network string) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
}

// It answers the records it holds over UDP and TCP, NODATA for another
// type of a known name, NXDOMAIN for an unknown one, case-insensitively.
func TestAnswers(t *testing.T) {
	s, err := Start([]string{`example.net. 300 IN TXT "v=spf1 -all"`, `mail.example.net. 300 IN A 192.0.2.10`})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for _, network := range []string{"udp", "tcp"} {
		r := resolver(s.Addr, network)
		if txt, err := r.LookupTXT(ctx, "EXAMPLE.net"); err != nil || len(txt) != 1 || txt[0] != "v=spf1 -all" {
			t.Errorf("%s TXT: %q, %v", network, txt, err)
		}
		if ips, err := r.LookupHost(ctx, "mail.example.net"); err != nil || len(ips) != 1 || ips[0] != "192.0.2.10" {
			t.Errorf("%s A: %v, %v", network, ips, err)
		}
		_, err := r.LookupMX(ctx, "example.net")
		var de *net.DNSError
		if !errors.As(err, &de) || !de.IsNotFound {
			t.Errorf("%s MX of a name with only TXT: %v, want not found", network, err)
		}
		if _, err := r.LookupTXT(ctx, "other.example.net"); !errors.As(err, &de) || !de.IsNotFound {
			t.Errorf("%s unknown name: %v, want NXDOMAIN", network, err)
		}
	}
	if s.Queries() == 0 {
		t.Error("no query counted")
	}
	if err := s.Add(`new.example.net. 300 IN A 192.0.2.11`); err != nil {
		t.Fatal(err)
	}
	if ips, err := resolver(s.Addr, "udp").LookupHost(ctx, "new.example.net"); err != nil || len(ips) != 1 {
		t.Errorf("added record: %v, %v", ips, err)
	}
}

func TestBadRecord(t *testing.T) {
	if _, err := Start([]string{"example.net. 300 IN A 192.0.2.999"}); err == nil || !strings.Contains(err.Error(), "example.net") {
		t.Errorf("a bad record: err = %v, want an error naming it", err)
	}
	if _, err := Start([]string{"not a record at all"}); err == nil {
		t.Error("garbage accepted")
	}
}
