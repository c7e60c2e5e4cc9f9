package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/bouncewatch/bouncewatch/internal/app"
	"github.com/bouncewatch/bouncewatch/internal/health"
	"github.com/bouncewatch/bouncewatch/internal/notify"
)

// listFlag collects a repeatable flag; each value may also be a comma list.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

// cmdDoctor checks the office's sender domain and sending IPs against what
// Gmail, Yahoo and Outlook require of senders. Exit status 0 when nothing
// fails, 1 when a check fails or none could be made (no DNS answer), 2 on a
// usage or configuration error.
func cmdDoctor(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print one JSON object instead of the Japanese table")
	domain := fs.String("domain", "", "sender domain to check (default: the domain of BOUNCEWATCH_IMAP_USERNAME)")
	var ips, selectors listFlag
	fs.Var(&ips, "ip", "sending IP to check; repeatable (default: the sending IPs of the last 30 days' bounces); "+
		"with several, --json's \"ip\" is the first, \"ips\" lists all and each IP check names its \"ip\"")
	fs.Var(&selectors, "selector", "DKIM selector of the domain to check (the s= of a DKIM-Signature); repeatable")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bouncewatch doctor: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg, err := app.LoadConfig()
	if err != nil {
		fmt.Fprintln(stderr, "bouncewatch:", err)
		return 2
	}
	ctx, stop := signalContext(stderr)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	rep, err := app.Doctor(ctx, cfg, app.DoctorOptions{Domain: *domain, IPs: ips, Selectors: selectors,
		Logger: newLogger(stderr, cfg.LogFormat, "error")})
	if err != nil {
		fmt.Fprintln(stderr, "bouncewatch doctor:", err)
		return 2
	}
	if *asJSON {
		if err := writeDoctorJSON(stdout, rep); err != nil {
			fmt.Fprintln(stderr, "bouncewatch doctor:", err)
			return 2
		}
	} else {
		fmt.Fprint(stdout, health.DoctorText(rep.Domain, rep.IPs, rep.Results, notify.JST(), cfg.HostingName))
	}
	if health.Unverified(rep.Results) {
		fmt.Fprintln(stderr, "bouncewatch doctor: no check could be made (is the DNS server reachable? BOUNCEWATCH_DNS_SERVER)")
		return 1
	}
	if health.Failed(rep.Results) {
		return 1
	}
	return 0
}

// doctorJSON is the one object `doctor --json` prints (issue 12's
// contract). With one --ip (or none) it is exactly
// {"domain","ip","checks":[{"check","list","status","detail"}]}. With
// several, "ip" is the first, "ips" lists them all, and each check that is
// about an IP (spf, ptr, the IP blocklists) names it in its own "ip"; the
// domain's checks (dmarc, dkim, the domain blocklists, mx) appear once.
type doctorJSON struct {
	Domain string      `json:"domain"`
	IP     string      `json:"ip"` // the IP checked, the first of several; "" when none
	IPs    []string    `json:"ips,omitempty"`
	Checks []checkJSON `json:"checks"`
}

type checkJSON struct {
	Check  health.Check  `json:"check"`
	IP     string        `json:"ip,omitempty"`   // with several IPs only
	List   string        `json:"list,omitempty"` // dnsbl only
	Status health.Status `json:"status"`
	Detail string        `json:"detail"`
}

func writeDoctorJSON(w io.Writer, rep app.DoctorReport) error {
	out := doctorJSON{Domain: rep.Domain, Checks: []checkJSON{}}
	if len(rep.IPs) > 0 {
		out.IP = rep.IPs[0]
	}
	several := len(rep.IPs) > 1
	if several {
		out.IPs = rep.IPs
	}
	for _, r := range rep.Results {
		c := checkJSON{Check: r.Check, List: r.List, Status: r.Status, Detail: r.Detail}
		if several {
			c.IP = r.IP()
		}
		out.Checks = append(out.Checks, c)
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
