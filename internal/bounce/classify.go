package bounce

import "strings"

// A rule names a reason and the lowercase phrases of receivers' texts that
// show it. Rules are tried in order; the first whose phrase occurs in the
// unfolded diagnostic wins. The phrases are SMTP response wordings as real
// servers send them (KB sections 3-8).
type rule struct {
	reason  Reason
	phrases []string
}

var rules = []rule{
	// Our own sending IP or domain judged: most specific first.
	{ReasonBadReputation, []string{
		"temporarily deferred",
		"ip reputation", "rate limited due to", "low reputation", "poor reputation", "bad reputation",
		"reputation of the sending", "sender reputation", "domain reputation", "[tss04]", "[ts01]", "[ts02]",
		"temporarily deferred due to unexpected volume", "has been temporarily rate limited",
		"our system has detected that this message is likely suspicious due to the very low reputation",
		"likely suspicious due to", "the ip you're using to send mail is not authorized",
	}},
	{ReasonAuthFailure, []string{
		"does not have authentication information", "authentication information",
		"sender policy framework", "spf check failed", "spf fail", "spf validation", "spf record",
		"spf permerror", "spf softfail", "spf: ", "spf)", "does not pass spf", "failed spf", "spf authentication",
		"dkim check failed", "dkim signature", "dkim = did not pass", "dkim = failure", "dkim validation", "dkim fail",
		"dmarc policy", "dmarc verification", "dmarc check", "failed dmarc", "dmarc fail", "due to dmarc", "domain's dmarc",
		"does not pass dmarc", "unauthenticated email", "authenticate with either spf or dkim", "is not authenticated",
		"requires all senders to authenticate", "sender authentication", "5.7.26", "5.7.509", "5.7.23 ",
		"failing both spf and dkim", "authentication check", "does not meet the required authentication level",
		"is not allowed to send from", "not permitted by the spf", "the sending domain is not authorized", "5.7.515",
	}},
	{ReasonRequirePTR, []string{
		"unverifyable sending ip", "unverifiable sending ip",
		"mismatches client ip",
		"reverse dns", "reverse lookup", "no ptr record", "ptr record", "rdns", "no reverse", "reverse-dns",
		"cannot find your hostname", "cannot resolve your address", "client host rejected: cannot find your",
		"unresolvable ip address", "your ip has no ptr", "does not have a ptr", "without valid reverse",
		"hostname does not resolve", "hostname mismatch", "ip name lookup failed", "cannot find your reverse hostname",
		"fix reverse dns", "no valid reverse", "is not resolvable", "ptr", "dns entry for your host",
		"reverse address", "forward and reverse dns", "rejected due to no dns",
	}},
	{ReasonSpeeding, []string{
		"rate limit exceeded", "rate that is limited", "sending rate", "receiving mail at a rate",
		"unusual rate of unsolicited", "too many messages sent", "exceeded the rate limit",
		"message rate", "too fast", "throttled", "throttling", "4.7.28",
	}},
	{ReasonTooManyConn, []string{
		"too many recipients", "connection frequency", "frequency limited",
		"too many connections", "too many concurrent", "too many simultaneous", "connection rate limit",
		"connection limit", "too many smtp sessions", "concurrent connections", "try again later, closing connection",
		"max connections", "too many open connections", "exceeded the maximum number of connections",
	}},
	{ReasonGreylisted, []string{
		"greylist", "graylist", "grey-list", "gray-list", "greylisting", "postgrey",
		"deferred for ",
	}},
	{ReasonNoRelaying, []string{
		"中継を拒否", "中継拒否",
		"email address is not verified",
		"relay access denied", "relaying denied", "relay denied", "unable to relay", "relay not permitted",
		"not configured to relay", "relaying not allowed", "we do not relay", "relay not allowed",
		"relaying mail to", "not permitted to relay", "no relaying", "relay prohibited", "you are not allowed to relay",
		"not local host", "not a gateway", "open relay", "relaying is prohibited", "relay attempt", "cannot relay",
		"relay_denied", "relay access", "isn't in my list of allowed rcpthosts", "is not in my list of allowed rcpthosts",
	}},
	{ReasonBlocked, []string{
		"please use the smtp server of your isp", "service refused", "service refuse", "not accepting connections",
		"invalid ip for sending",
		"blocked using", "blocklist", "block list", "blacklist", "black list", "listed in", "listed on",
		"dnsbl", "spamhaus", "spamcop", "barracuda", "uceprotect", "sorbs", "cloudmark", "proofpoint", "rbl",
		"banned sending ip", "banned sender", "access denied. ip", "your ip has been blocked", "ip blocked",
		"blocked by", "has been blocked", "ip address is blocked", "client host rejected",
		"is blocked", "was blocked", "are blocked", "not allowed to connect", "service unavailable, client host",
		"refused to talk to me", "not accepting mail from", "poor reputation", "permanently deferred",
		"bl21", "bl23", "[rbl", "refused by policy", "rejected because of your ip",
		"your access to this mail system has been rejected", "messages from [", "weren't sent. please contact your internet service provider",
		"connection rejected", "refused connection",
	}},
	{ReasonVirusDetected, []string{
		"ウイルスが検出", "ウィルスが検出",
		"virus", "malware", "infected", "trojan", "worm detected", "malicious",
	}},
	{ReasonSpamDetected, []string{
		"迷惑メールと判定",
		"spam", "unsolicited", "junk mail", "bulk mail", "ube ", "uce ", "message content rejected",
		"content rejected", "suspicious", "high probability of", "considered as unsolicited",
		"mail appears to be unsolicited", "looks like spam", "scored as", "spam score", "x-spam",
		"appears to be spam", "phishing",
	}},
	{ReasonMesgTooBig, []string{
		"サイズが大きすぎ", "サイズ制限", "サイズの上限",
		"message size exceeds", "message too big", "message too large", "size exceeds", "exceeds size limit",
		"message length exceeds", "mail size limit", "size limit", "too large", "message is too big",
		"exceeds the maximum", "maximum message size", "message exceeds", "is larger than", "too big for",
		"size of the message", "5.3.4",
	}},
	{ReasonMailboxFull, []string{
		"メールボックスがいっぱい", "メールボックスの容量", "容量を超え", "容量オーバー", "容量が不足", "保存容量",
		"mailbox exceeds allowed size", "mailbox exceeds",
		"mailbox full", "mailbox is full", "mailbox has exceeded", "mailbox quota", "quota exceeded",
		"over quota", "overquota", "over the quota", "exceeded storage", "exceeded its quota", "disk quota",
		"mailbox exceeded", "full mailbox", "insufficient storage", "mailbox size limit", "quota full",
		"out of storage", "user's mailbox is full", "mail quota", "exceeds quota", "quota reached",
		"not enough space", "storage allocation", "the email account that you tried to reach is over quota",
		"mailfolder is full", "mail box full", "account is full", "maildir over quota", "exceeding its mailbox quota",
		"number of messages in recipient's mailbox exceeded", "is over quota", "overquota", "inbox is full",
		"boîte pleine", "user is over", "exceed mailbox", "limit exceeded",
	}},
	{ReasonExceedLimit, []string{
		"exceeds the recipient's size limit", "message exceeds local size limit", "size limit of the recipient",
	}},
	{ReasonSuspend, []string{
		"利用停止", "利用が停止",
		"frozen",
		"account disabled", "account is disabled", "account has been disabled", "account suspended",
		"account is suspended", "account has been suspended", "account inactive", "account is inactive",
		"inactive account", "mailbox disabled", "mailbox is disabled", "mailbox has been disabled",
		"mailbox inactive", "is deactivated", "account deactivated", "account locked", "account is locked",
		"account frozen", "disabled mailbox", "user suspended", "not active", "temporarily disabled",
		"is not available at this time", "mailbox unavailable: account", "blocked account", "expired account",
		"account expired", "this account has been", "recipient suspended", "suspended", "account closed",
		"currently suspended", "mailbox temporarily disabled", "deactivated", "disabled recipient",
	}},
	{ReasonHasMoved, []string{
		"not our customer", "not our user",
		"has moved", "no longer on server", "user moved", "mailbox has moved", "address has changed", "moved to",
	}},
	{ReasonNotAccept, []string{
		"no mx found", "couldn't find a mail exchanger",
		"no smtp service", "indicated no smtp",
		"null mx", "does not accept mail", "does not accept email", "accepts no mail", "no mx record",
		"domain does not receive", "not accepting mail", "does not receive mail",
		"domain has no mx", "no mail server",
	}},
	{ReasonHostUnknown, []string{
		"ドメインが見つかりません", "ドメインが存在しません", "ホストが見つかりません",
		"domain is not reachable",
		"host or domain name not found", "host not found", "domain not found", "unknown host", "host unknown",
		"couldn't find any host", "no such domain", "domain does not exist", "nxdomain", "name or service not known",
		"unrouteable address", "unroutable address", "domain name not found", "domain unknown", "unknown domain",
		"all relevant mx records point to non-existent hosts", "no route for domain",
		"host name lookup failure", "invalid domain", "dns lookup failed", "does not resolve", "unresolvable",
		"illegal host", "mx lookup failed",
	}},
	{ReasonRejected, []string{
		"sender rejected", "sender address rejected", "sender denied", "sender blocked", "sender is blocked",
		"domain of sender address", "sender domain must exist", "sender verify failed", "sender address is invalid",
		"invalid sender", "sender not allowed", "mail from rejected", "envelope sender", "unroutable sender",
		"bad sender", "sender unknown", "unknown sender", "rejected sender", "reject sender", "sender mismatch",
		"[mail_from]", "sender domain does not exist", "sender address does not exist", "address verification failed",
		"not a registered gateway user", "you are sending to/from an address", "your envelope sender",
	}},
	{ReasonUserUnknown, []string{
		"宛先のメールアドレスが見つかりません", "アドレスが見つかりません", "宛先が見つかりません", "存在しないメールアドレス", "ユーザーが存在しません", "ユーザが存在しません", "アカウントが存在しません", "宛先不明", "受取人が見つかりません",
		"couldn't be found", "could not be found", "no such user here",
		"user unknown", "unknown user", "no such user", "user not found", "unknown recipient", "recipient unknown",
		"no such recipient", "recipient not found", "recipientnotfound", "recipnotfound", "address not found",
		"does not exist", "doesn't exist", "no mailbox", "mailbox not found", "mailbox unavailable",
		"mailbox does not exist", "invalid recipient", "invalid mailbox", "invalid address", "bad recipient",
		"unknown or illegal", "not a valid mailbox", "no such mailbox", "no such address", "addressee unknown",
		"unknown address", "unknown local part", "is not a valid user", "not a known user",
		"user doesn't have", "doesn't have an account", "account does not exist", "account that you tried to reach does not exist",
		"no account by that name", "no mailbox here by that name", "mailbox not available",
		"user invalid", "unknown mailbox", "user does not exist", "no such person", "not listed in",
		"invalid user", "recipient does not exist", "account unavailable", "unrouteable",
		"could not be found", "was not found", "not found in", "no valid recipients", "destination address does not exist",
		"mailbox is not existing", "this user doesn't", "not a valid recipient", "could not deliver mail to this user",
		"no such local user", "and other recipients in the same domain", "recipient address rejected", "unknown account", "user not exist", "bad destination mailbox",
	}},
	{ReasonPolicyViolation, []string{
		"policy", "prohibited", "not allowed", "not permitted", "violat", "forbidden", "restricted",
		"transport.rules", "rejected by organization", "header error",
	}},
	{ReasonContentError, []string{
		"content error", "illegal character", "invalid content", "bad content", "improper", "mime",
		"message header", "header is", "invalid header", "8bit", "line too long",
	}},
	{ReasonNotCompliantRFC, []string{
		"rfc 5322", "rfc5322", "rfc 2822", "rfc2822", "rfc 822", "rfc822 compliant", "not rfc",
		"multiple addresses in from", "duplicate header", "header field", "rfc 1123", "messages must conform",
		"not compliant",
	}},
	{ReasonFailedSTARTTLS, []string{
		"does not support tls", "support tls", "tls not available",
		"starttls", "tls required", "must issue a starttls", "tls is required", "requires tls", "encryption required",
		"tls handshake", "secure connection",
	}},
	{ReasonSecurityError, []string{
		"authentication required", "authentication failed", "auth failed", "authentication error", "smtp auth",
		"must authenticate", "not authenticated", "access control", "certificate", "security", "insecure",
		"encryption", "password",
	}},
	{ReasonSystemFull, []string{
		"insufficient system storage", "insufficient disk space", "insufficient system resources",
		"disk full", "system full", "out of disk", "no space left", "mail system full",
	}},
	{ReasonNetworkError, []string{
		"lost connection", "connection refused", "connection reset", "no route to host", "network is unreachable",
		"host is unreachable", "name service error",
		"malformed or unexpected name server reply", "too many hops", "mail loop", "loop detected", "loops back",
		"hop count exceeded", "routing loop", "unable to connect", "could not connect", "connection closed",
		"dns error", "temporary failure in name resolution", "network error", "tls error",
	}},
	{ReasonSystemError, []string{
		"transaction failed",
		"system error", "server error", "internal error", "temporary error",
		"temporary problem", "local error", "service unavailable", "service not available", "server busy",
		"queue file write error", "system problem", "unable to process", "internal server error",
		"mailbox temporarily unavailable", "unavailable", "temporarily", "transient", "resources temporarily",
		"ldap", "database error", "i/o error", "system failure", "server is busy", "machine is busy",
	}},
	{ReasonExpired, []string{
		"connection timed out", "timed out", "timeout",
		"retry timeout exceeded", "message expired", "envelope expired", "in the queue too long", "queue too long",
		"still undelivered after", "will keep trying until", "did not accept our requests to connect",
		"delivery time expired", "could not be delivered for", "has not been delivered for", "delivery expired",
		"unable to deliver in", "message timed out", "too long in queue", "exceeded the retry", "max retries",
		"maximum delivery attempts", "delivery attempts exceeded", "giving up", "gave up", "delivery failed 20 attempts",
		"failed attempts", "time limit exceeded", "retry time exceeded", "message could not be delivered within",
	}},
	{ReasonSyntaxError, []string{
		"syntax error", "command unrecognized", "unrecognized command", "bad sequence of commands", "command not recognized",
		"line too long", "parameter not implemented",
	}},
	{ReasonMailerError, []string{
		"mailer error", "command died", "exit code", "program exited", "procmail", "unknown mailer error",
		"x-unix;", "permission denied", "local delivery failed", "pipe to",
	}},
}

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

// strongUserUnknown are wordings that only ever answer RCPT TO.
var strongUserUnknown = []string{
	"unknown recipient", "recipient name is not recognized", "no valid recipients", "invalid recipient",
	"recipient not found", "recipnotfound", "recipientnotfound", "resolver.adr", "[rcpt_to]",
	"no such recipient", "recipient unknown", "recipient does not exist", "no mailbox here by that name",
	"宛先のメールアドレスが見つかりません", "アドレスが見つかりません", "宛先が見つかりません", "存在しないメールアドレス",
	"ユーザーが存在しません", "ユーザが存在しません", "アカウントが存在しません", "受取人が見つかりません",
	"destinataire invalide", "and other recipients in the same domain", "account that you tried to reach does not exist", "not listed in public name",
}

// classifyInput is what the classifier looks at for one recipient.
type classifyInput struct {
	diag    string // receiver's text, unfolded
	status  string
	reply   string
	command string // SMTP command the failure answered, upper case
	action  string
	subject string // the bounce's own subject, lowercase
	carrier bool   // recipient at a Japanese mobile carrier
	expired bool   // the report says the retry period ran out
}

// classify decides the reason for one recipient.
func classify(in classifyInput) Reason {
	low := lowerASCII(in.diag)
	r := matchRules(low)
	if r == "" && strings.Contains(low, "doesn't have a") && strings.Contains(low, " account") {
		// Yahoo: "This user doesn't have a yahoo.co.jp account".
		r = ReasonUserUnknown
	}
	fromText := r != ""
	if r == ReasonUserUnknown && domainDoesNotExist(low) {
		// "553 example.com does not exist": the domain, not the user.
		r = ReasonHostUnknown
	}
	if r == "" {
		r = byStatus(in.status)
	}
	if r == ReasonSpeeding && strings.HasPrefix(in.status, "5") && containsAny(low, "unsolicited", "your ip", "from your") {
		// The same rate problem, answered with a permanent code: blocked.
		r = ReasonBlocked
	}
	if r == ReasonMesgTooBig && strings.HasSuffix(in.status, ".2.3") {
		// 5.2.3: the message is over the recipient's own size limit.
		r = ReasonExceedLimit
	}
	if strings.HasSuffix(in.status, ".4.7") && (r == ReasonNetworkError || r == ReasonSystemError) {
		// x.4.7: the delivery time expired; the network trouble was the cause.
		r = ReasonExpired
	}
	if r == ReasonHostUnknown && (strings.HasPrefix(in.status, "4") || in.action == ActionDelayed) {
		// A temporary DNS failure does not prove the domain is gone.
		r = ReasonNetworkError
	}
	if in.action == ActionDelayed && (r == "" || !fromText) {
		// Still queued: the cause is not the receiver's verdict on us.
		r = ReasonExpired
	}
	if r == "" || r == ReasonRejected || r == ReasonPolicyViolation || r == ReasonSystemError {
		if in.command == "HELO" || in.command == "CONN" {
			// Refused before any address was given: the receiver refuses our server.
			r = ReasonBlocked
		}
	}
	if in.carrier && (r == "" || r == ReasonRejected) && strings.Contains(low, "reject") {
		// Japanese carriers reject mail refused by the recipient's reception settings.
		r = ReasonFiltered
	}
	if in.action == ActionFailed && (strings.HasPrefix(in.status, "4") || in.status == "" && strings.HasPrefix(in.reply, "4")) &&
		r == "" && in.expired {
		// A temporary failure that lasted until the queue lifetime ran out.
		r = ReasonExpired
	}
	if in.action == ActionFailed && in.status == "" && strings.HasPrefix(in.reply, "4") && (r == "" || r == ReasonNetworkError) {
		// Given up on with only a temporary reply to show: the retry period ran out.
		r = ReasonExpired
	}
	switch {
	case r == ReasonUserUnknown && in.command != "RCPT" && byStatus(in.status) != ReasonUserUnknown && !containsAny(low, strongUserUnknown...) &&
		(in.command == "DATA" || in.status == "" || strings.HasSuffix(in.status, ".2.1") || strings.HasSuffix(in.status, ".2.0") || strings.Contains(low, "550 : user unknown")):
		// "User unknown" that does not answer RCPT TO and is not backed by a
		// 5.1.x status is a filter refusing the mail: after DATA, a 5.2.x
		// mailbox status, or au's empty-bracket form (reception settings).
		r = ReasonFiltered
	case in.command == "MAIL" && (r == "" || r == ReasonUserUnknown || r == ReasonHostUnknown || r == ReasonFiltered ||
		r == ReasonNotAccept || r == ReasonSuspend || r == ReasonOnHold):
		// Refused at MAIL FROM: the receiver objects to our sender address or domain.
		r = ReasonRejected
	}
	if r == "" {
		switch {
		case in.status != "" || in.reply != "" || strings.TrimSpace(in.diag) != "":
			// The receiver answered, in words we cannot place.
			r = ReasonOnHold
		default:
			r = ReasonUndefined
		}
	}
	return r
}

// overrides are wordings that would otherwise hit a broader rule first.
var overrides = []rule{
	{ReasonPolicyViolation, []string{"same message-id"}},
	{ReasonAuthFailure, []string{"authenticate with spf", "authenticate their email with spf", "authenticate with dkim",
		"authenticate their email with dkim", "dkim does not pass"}},
	{ReasonFiltered, []string{"x-spasign: ng"}},
	{ReasonUserUnknown, []string{"recipient address rejected: access denied", "not listed in public name & address book", "not listed in domino directory"}},
	{ReasonSuspend, []string{"temporary locked", "temporarily locked", "account is blocked", "compte du destinataire est bloque"}},
	{ReasonSecurityError, []string{"unauthenticated senders not allowed"}},
	{ReasonContentError, []string{"headers too large", "header too large", "media error"}},
	{ReasonMailerError, []string{"procmail:", "mailer error"}},
	{ReasonOnHold, []string{"rejected: on hold"}},
	{ReasonSpeeding, []string{"4.7.28", "unusual rate of unsolicited"}},
	{ReasonExpired, []string{"timed out"}},
	{ReasonPolicyViolation, []string{"because its content", "content presents a potential"}},
	{ReasonSpamDetected, []string{"blacklisted url", "uribl", "spam url", "blacklisted link"}},
	{ReasonRejected, []string{"sending to/from an address that has been blacklisted"}},
	{ReasonSyntaxError, []string{"malformed address"}},
	{ReasonNotCompliantRFC, []string{"rfc 5322 compliant", "rfc5322 compliant", "multiple addresses in from", "rfcmessagenoncompliant", "not rfc compliant"}},
	{ReasonSpeeding, []string{"too many recipients this hour", "sent to too many recipients"}},
	{ReasonHostUnknown, []string{"the account or domain may not exist"}},
	{ReasonRejected, []string{"'send mail as'", "customfromdenied"}},
	// Microsoft (KB section 3): Outlook.com's own codes and Exchange Online wordings.
	{ReasonBadReputation, []string{"rp-001", "rp-002"}},
	{ReasonTooManyConn, []string{"rp-003", "connection rate limit", "max message per connection", "maximum number of connections"}},
	{ReasonBlocked, []string{"sc-001", "sc-002", "sc-003", "sc-004", "dy-001", "dy-002", "ou-001", "ou-002",
		"does not accept email over ipv6", "access denied, please try again later", "helo command rejected", "not in whitelist"}},
	{ReasonPolicyViolation, []string{"does not allow external forwarding"}},
	{ReasonRejected, []string{"sendernotauthenticatedforgroup", "sender was not authenticated", "not in allowed-senders list",
		"sender address rejected"}},
	{ReasonSpeeding, []string{"please try again later from [", "recipient thread limit exceeded", "per hour message receive limit",
		"can receive per hour", "receiving mail too quickly", "excessive volume"}},
	{ReasonAuthFailure, []string{"dmarc record", "aligned with either the authenticated spf or dkim"}},
	{ReasonSpamDetected, []string{"nature of the content or the links"}},
	{ReasonFailedSTARTTLS, []string{"not using a tls connection"}},
	{ReasonMailboxFull, []string{"too much mail data"}},
}

// fallbacks apply only when no rule matched.
var fallbacks = []rule{
	{ReasonUserUnknown, []string{"recipient address rejected", "address rejected", "recipient rejected"}},
	{ReasonMailerError, []string{"x-unix;"}},
}

// ruleMatcher finds, in one pass over a text, the first rule of overrides,
// rules and fallbacks (in that order) that has a phrase in the text.
var ruleMatcher = compileRules(overrides, rules, fallbacks)

// compiledRules is rule lists compiled into one phraseSet: phrase ids follow
// the order of the lists and of the rules in them, so the lowest matching id
// belongs to the first matching rule.
type compiledRules struct {
	set    *phraseSet
	reason []Reason // per phrase id
	list   []int    // per phrase id: index of the list it came from
}

func compileRules(lists ...[]rule) compiledRules {
	var c compiledRules
	var phrases []string
	for li, list := range lists {
		for _, ru := range list {
			for _, p := range ru.phrases {
				phrases = append(phrases, p)
				c.reason = append(c.reason, ru.reason)
				c.list = append(c.list, li)
			}
		}
	}
	c.set = newPhraseSet(phrases)
	return c
}

// match returns the reason of the first rule, in the first maxLists lists,
// with a phrase in low; or "".
func (c compiledRules) match(low string, maxLists int) Reason {
	if id := c.set.first(low); id >= 0 && c.list[id] < maxLists {
		return c.reason[id]
	}
	return ""
}

// matchRules returns the reason of the first override, rule or fallback (in
// that order) whose phrase occurs in low; or "".
func matchRules(low string) Reason {
	if low == "" {
		return ""
	}
	// "Recipient address rejected: <why>": the why decides.
	if i := strings.Index(low, "recipient address rejected: "); i >= 0 {
		tail := low[i+len("recipient address rejected: "):]
		if strings.HasPrefix(tail, "access denied") {
			// Exchange Online's directory-based edge blocking: no such recipient.
			return ReasonUserUnknown
		}
		if r := ruleMatcher.match(tail, 2); r != "" { // overrides and rules, not fallbacks
			return r
		}
	}
	return ruleMatcher.match(low, 3)
}

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

// domainDoesNotExist reports "<host name> does not exist" (a domain, no @).
func domainDoesNotExist(low string) bool {
	i := strings.Index(low, " does not exist")
	if i <= 0 {
		return false
	}
	j := i
	for j > 0 && low[j-1] != ' ' {
		j--
	}
	w := strings.Trim(low[j:i], "<>'\"")
	return strings.Count(w, ".") >= 1 && !strings.Contains(w, "@") && !strings.HasSuffix(w, ".")
}
