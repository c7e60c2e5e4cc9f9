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

	// Facts of the whole report, the same for each of its recipients.
	ReportText    Reason // the rule table's reading of the report's whole text, read only when Diagnostic is empty
	ReportExpired bool   // the report says the retry period ran out
	GoogleGroups  bool   // the recipient is a Google Group, or the report names groups.google.com
	WeakText      bool   // Diagnostic is only the report's own words, nothing of the receiver's
}

// verdict is what decide concludes from one recipient's evidence.
type verdict struct {
	Reason    Reason
	Hard      bool // the address itself is bad (Sisimai's hard bounce)
	Temporary bool // a transient failure (4xx or a delay notice)
}
