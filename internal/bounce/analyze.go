package bounce

// Limits bound the work Analyze does on one message.
type Limits struct {
	MaxBytes int // bytes of the message that are read at all (default 32 MiB)
	MaxParts int // MIME parts walked (default 1000)
	MaxDepth int // MIME nesting depth followed (default 20)
}

// DefaultLimits are used by Analyze.
var DefaultLimits = Limits{MaxBytes: 32 << 20, MaxParts: 1000, MaxDepth: 20}

// Analyze parses and classifies one raw message. It never panics and always
// returns a Report; a message that cannot be parsed has Kind KindNone and a
// non-empty Error.
func Analyze(raw []byte) *Report {
	return AnalyzeWithLimits(raw, DefaultLimits)
}

// AnalyzeWithLimits is Analyze with explicit limits.
func AnalyzeWithLimits(raw []byte, lim Limits) *Report {
	return &Report{Kind: KindNone}
}

// Candidate reports, from a message's header block alone (and its size), whether the
// message may be a bounce, delay, auto-reply or complaint report and so is worth
// fetching whole. It errs on the side of true.
func Candidate(header []byte) bool {
	return true
}
