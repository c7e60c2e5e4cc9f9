package bounce

import "strings"

// ProviderMicrosoft365 is the provider variant of ProviderMicrosoft for
// Microsoft 365 / Exchange Online tenants: an organisation's own domain whose
// mail Microsoft hosts. As a variant, ProviderMicrosoft alone means the
// consumer service (Outlook.com, Hotmail, outlook.jp, live.jp).
//
// KB.md §2 and §3: the two have different filters, codes and delisting
// channels (S3140 and S775 and the Outlook.com sender support form are the
// consumer service's; 5.7.606–649 and sender.office.com are a tenant's), and
// Outlook's 2025 bulk-sender rules apply to the consumer service only; keep
// "consumer" and "tenant" as separate provider values.
const ProviderMicrosoft365 = "microsoft365"

// ProviderVariant is the recipient's provider (Provider; ProviderOther when
// unknown), with Microsoft's consumer service told apart from Microsoft 365
// tenants. For Microsoft, the receiving host decides, by Microsoft's
// documented MX names (KB.md §2):
//
//   - *.olc.protection.outlook.com (e.g. outlook-com.olc.protection.outlook.com,
//     regional apc.olc.protection.outlook.com) and the legacy mx1..4.hotmail.com
//     are the consumer service: ProviderMicrosoft;
//   - <domain-with-dashes>.mail.protection.outlook.com and the DNSSEC MX
//     <domain-with-dashes>.<x>-v1.mx.microsoft are a tenant: ProviderMicrosoft365.
//
// Without such a host, the recipient's domain decides: the consumer domains
// (outlook.*, hotmail.*, live.*, msn.*, windowslive.com, passport.com) are
// the consumer service, any other domain a tenant (a custom domain is not
// Outlook.com). A Microsoft recipient with no domain is taken for the
// consumer service.
func (rc Recipient) ProviderVariant() string {
	p := strings.ToLower(strings.TrimSpace(rc.Provider))
	switch p {
	case "":
		return ProviderOther
	case ProviderMicrosoft:
	default:
		return p
	}
	mta := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(rc.RemoteMTA), "."))
	switch {
	case strings.HasSuffix(mta, ".olc.protection.outlook.com") || strings.HasSuffix(mta, ".hotmail.com"):
		return ProviderMicrosoft
	case strings.HasSuffix(mta, ".mail.protection.outlook.com") || strings.HasSuffix(mta, ".mx.microsoft"):
		return ProviderMicrosoft365
	}
	if d := domainOf(strings.Trim(strings.TrimSpace(rc.Address), "<>")); d != "" && !microsoftConsumerDomain(strings.TrimSuffix(d, ".")) {
		return ProviderMicrosoft365
	}
	return ProviderMicrosoft
}

// microsoftConsumerDomain reports whether d is a domain of Microsoft's consumer
// service (KB.md §2: outlook.com, hotmail.com, live.com, msn.com,
// outlook.jp, hotmail.co.jp, live.jp and the other ccTLD hotmail/live ones).
func microsoftConsumerDomain(d string) bool {
	for _, p := range []string{"outlook.", "hotmail.", "live.", "msn."} {
		if strings.HasPrefix(d, p) {
			return true
		}
	}
	return d == "windowslive.com" || d == "passport.com"
}
