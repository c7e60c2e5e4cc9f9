package email

import (
	"strings"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-msgauth/authres"
)

// AuthVerdict says what the receiving server's Authentication-Results
// (RFC 8601) show about the From domain of a message.
type AuthVerdict string

// Verdicts.
const (
	// AuthNone: the trusted server added no results (or none is trusted):
	// nothing is known about the From.
	AuthNone AuthVerdict = "none"
	// AuthPass: DMARC passed for the From domain, or SPF or DKIM passed for
	// exactly the From domain (strict alignment).
	AuthPass AuthVerdict = "pass"
	// AuthFail: the trusted server's results show no pass for the From
	// domain, or a DMARC failure: the From may be forged.
	AuthFail AuthVerdict = "fail"
)

// CheckAuth reads the Authentication-Results fields of a received message
// that were added by the mailbox's own server, known by its authserv-id
// (RFC 8601 section 2.2; e.g. "mx.google.com", "mx.example.jp"), and says
// whether they authenticate fromDomain. An empty authservID trusts nothing
// (AuthNone).
//
// Only the topmost Authentication-Results fields count, and only when they
// carry that authserv-id: the receiving server prepends its own above
// everything that came with the message, so the first run of its fields (up
// to a field of another server or a Received field after them) is its own;
// a field lower down carrying the same id came from the sender and is
// ignored. RFC 8601 section 5 asks the server to remove such copies on
// arrival; this rule covers servers that do not, as long as they add their
// own.
//
// A DMARC result counts when its header.from is the From domain (or is
// absent: DMARC is always about the From). SPF (smtp.mailfrom) and DKIM
// (header.d, else the domain of header.i) count only for exactly the From
// domain: relaxed alignment needs the public suffix list, and the receiving
// server's own DMARC result already covers it. A DMARC fail wins over any
// SPF or DKIM pass.
func CheckAuth(h mail.Header, authservID, fromDomain string) AuthVerdict {
	authservID = strings.ToLower(strings.TrimSpace(authservID))
	fromDomain = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(fromDomain), "."))
	if authservID == "" || fromDomain == "" {
		return AuthNone
	}
	var own [][]authres.Result
	started := false
	fields := h.Fields()
scan:
	for fields.Next() {
		switch strings.ToLower(fields.Key()) {
		case "received":
			if started {
				break scan
			}
		case "authentication-results":
			id, results, err := authres.Parse(unfold(fields.Value()))
			if !strings.EqualFold(id, authservID) {
				// Another server's results above or between ours: what
				// follows came from further away.
				break scan
			}
			started = true
			if err != nil && len(results) == 0 {
				continue
			}
			own = append(own, results)
		}
	}
	if !started {
		return AuthNone
	}
	pass := false
	for _, results := range own {
		for _, r := range results {
			switch r := r.(type) {
			case *authres.DMARCResult:
				if r.From != "" && !sameDomain(r.From, fromDomain) {
					continue
				}
				switch r.Value {
				case authres.ResultPass:
					pass = true
				case authres.ResultFail:
					return AuthFail
				}
			case *authres.SPFResult:
				if r.Value == authres.ResultPass && sameDomain(r.From, fromDomain) {
					pass = true
				}
			case *authres.DKIMResult:
				d := r.Domain
				if d == "" {
					d = r.Identifier
				}
				if r.Value == authres.ResultPass && sameDomain(d, fromDomain) {
					pass = true
				}
			}
		}
	}
	if pass {
		return AuthPass
	}
	return AuthFail
}

// sameDomain says whether v (a domain, or an address or "@domain" whose
// domain is taken) is exactly domain.
func sameDomain(v, domain string) bool {
	v = strings.Trim(strings.TrimSpace(v), `"<>`)
	if at := strings.LastIndexByte(v, '@'); at >= 0 {
		v = v[at+1:]
	}
	return v != "" && strings.EqualFold(strings.TrimSuffix(v, "."), domain)
}

// unfold joins a folded header value into one line and drops RFC 5322
// comments, which the authres parser does not skip.
func unfold(v string) string {
	var b strings.Builder
	depth := 0
	for _, r := range v {
		switch {
		case r == '(':
			depth++
		case r == ')' && depth > 0:
			depth--
		case depth > 0:
		case r == '\r' || r == '\n' || r == '\t':
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
