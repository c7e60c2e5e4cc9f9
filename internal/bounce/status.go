package bounce

import "strings"

// Enhanced status codes (RFC 3463) and what they say when the receiver's
// words say nothing the rule table (rules.yaml) can place.

// statusReasons maps enhanced status codes (without class) to a reason when
// the text says nothing more specific (RFC 3463).
var statusReasons = map[string]Reason{
	"1.1": ReasonUserUnknown, "1.2": ReasonHostUnknown, "1.3": ReasonUserUnknown, "1.4": ReasonUserUnknown,
	"1.5": ReasonUserUnknown, "1.6": ReasonHasMoved, "1.7": ReasonRejected, "1.8": ReasonRejected,
	"1.9": ReasonSystemError, "1.10": ReasonNotAccept, "2.0": ReasonFiltered, "2.1": ReasonSuspend,
	"2.2": ReasonMailboxFull, "2.3": ReasonExceedLimit, "2.4": ReasonSystemError,
	"3.1": ReasonSystemFull, "3.2": ReasonSystemError, "3.3": ReasonSystemError, "3.4": ReasonMesgTooBig,
	"3.5": ReasonSystemError, "4.0": ReasonNetworkError, "4.1": ReasonNetworkError, "4.2": ReasonNetworkError,
	"4.3": ReasonSystemError, "4.4": ReasonHostUnknown, "4.5": ReasonNetworkError, "4.6": ReasonNetworkError,
	"4.7": ReasonExpired, "5.0": ReasonSyntaxError, "5.1": ReasonSyntaxError, "5.2": ReasonSyntaxError,
	"5.3": ReasonTooManyConn, "5.4": ReasonSyntaxError, "5.5": ReasonSyntaxError, "5.6": ReasonSyntaxError,
	"6.0": ReasonContentError, "6.1": ReasonContentError, "6.2": ReasonContentError, "6.3": ReasonContentError,
	"6.4": ReasonContentError, "6.5": ReasonContentError, "6.6": ReasonContentError,
	"7.1": ReasonSecurityError, "7.2": ReasonSecurityError, "7.3": ReasonSecurityError,
	"7.4": ReasonSecurityError, "7.5": ReasonSecurityError, "7.6": ReasonSecurityError, "7.7": ReasonSecurityError,
	"7.8": ReasonSecurityError, "7.9": ReasonSecurityError, "7.10": ReasonSecurityError, "7.11": ReasonSecurityError,
	"7.12": ReasonSecurityError, "7.13": ReasonSuspend, "7.14": ReasonSecurityError, "7.15": ReasonSecurityError,
	"7.16": ReasonSecurityError, "7.17": ReasonSecurityError, "7.18": ReasonSecurityError, "7.19": ReasonSecurityError,
	"7.20": ReasonAuthFailure, "7.21": ReasonAuthFailure, "7.22": ReasonAuthFailure, "7.23": ReasonAuthFailure,
	"7.24": ReasonAuthFailure, "7.25": ReasonRequirePTR, "7.26": ReasonAuthFailure, "7.27": ReasonRejected,
	"7.28": ReasonSpeeding, "7.29": ReasonAuthFailure, "7.30": ReasonAuthFailure,
}

// byStatus is the reason statusReasons gives for an enhanced status code,
// ReasonDelivered for 2.x.x, or "".
func byStatus(status string) Reason {
	if len(status) < 5 {
		return ""
	}
	rest := status[2:]
	if status[0] == '2' {
		return ReasonDelivered
	}
	if r, ok := statusReasons[rest]; ok {
		return r
	}
	return ""
}

// hardReasons are failures of the address itself (Sisimai's hard bounce).
func isHard(r Reason, status string) bool {
	switch r {
	case ReasonUserUnknown, ReasonHostUnknown, ReasonHasMoved, ReasonNotAccept:
		return !strings.HasPrefix(status, "4")
	}
	return false
}
