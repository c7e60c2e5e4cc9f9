package bounce

// source says where a piece of evidence was read.
type source string

// Sources of evidence.
const (
	srcNone       source = ""
	srcDSN        source = "dsn"        // a field of a message/delivery-status part (RFC 3464)
	srcComment    source = "comment"    // the comment of a DSN Status field
	srcReply      source = "reply"      // the receiver's SMTP reply (inside a Diagnostic-Code or quoted text)
	srcTranscript source = "transcript" // an MTA's words around the reply (Postfix, Exim, sendmail transcripts)
	srcText       source = "text"       // the report's free text
	srcSES        source = "ses"        // an Amazon SES notification
	srcDerived    source = "derived"    // implied by other evidence (a 2xx reply, a delay notice)
)

// evidence is everything one report says about one recipient, before any
// judgement: extraction fills it, decide judges it. Texts are as read
// (unmasked); decide masks before matching.
type evidence struct {
	Status         string // enhanced status code (RFC 3463), e.g. 5.1.1; "" when none
	StatusFrom     source
	ReplyCode      string // SMTP reply code, e.g. 550; "" when none
	Command        string // SMTP command the reply answered: CONN, HELO, MAIL, RCPT, DATA
	CommandFrom    source
	Diagnostic     string // the receiver's words, unwrapped from the MTA's and unfolded
	DiagnosticFrom source
	Action         string // failed, delayed, delivered, relayed, expanded
	ActionFrom     source
	RemoteMTA      string
	ReportingMTA   string
	Provider       string // provider slug of the recipient (provider.go)
	MTA            string // reporting software with a vocabulary of its own ("fml"); "" otherwise

	GoogleGroup bool // the recipient is a Google Group (googlegroups.com)
	WeakText    bool // Diagnostic is only the report's own words, nothing of the receiver's

	// Report answers for the whole report, the same for each of its
	// recipients; nil when there is no report text.
	Report reportFacts
}

// reportFacts are the facts of a report's whole text that decide may ask
// for. Each costs a pass over the text, so each is computed on first use
// and once per message; the answers depend on the text alone.
type reportFacts interface {
	textReason() Reason // the rule table's reading of the whole text
	expired() bool      // the text says the retry period ran out
	namesGroups() bool  // the text names groups.google.com
}

func (ev *evidence) reportText() Reason {
	if ev.Report == nil {
		return ""
	}
	return ev.Report.textReason()
}

func (ev *evidence) reportExpired() bool { return ev.Report != nil && ev.Report.expired() }

func (ev *evidence) googleGroups() bool {
	return ev.GoogleGroup || ev.Report != nil && ev.Report.namesGroups()
}

// verdict is what decide concludes from one recipient's evidence.
type verdict struct {
	Reason    Reason
	Hard      bool // the address itself is bad (Sisimai's hard bounce)
	Temporary bool // a transient failure (4xx or a delay notice)
}

// failing reports whether the action is a failure or a delay.
func (ev *evidence) failing() bool { return ev.Action == ActionFailed || ev.Action == ActionDelayed }
