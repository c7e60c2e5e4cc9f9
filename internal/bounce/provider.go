package bounce

import "strings"

// Provider detection (KB section 2): the recipient's domain first, then the
// remote MTA host name, then fingerprints in the receiver's text.

var providerDomains = map[string]string{
	"outlook.com": ProviderMicrosoft, "hotmail.com": ProviderMicrosoft, "live.com": ProviderMicrosoft,
	"msn.com": ProviderMicrosoft, "outlook.jp": ProviderMicrosoft, "hotmail.co.jp": ProviderMicrosoft,
	"live.jp": ProviderMicrosoft, "hotmail.co.uk": ProviderMicrosoft, "hotmail.fr": ProviderMicrosoft,
	"hotmail.de": ProviderMicrosoft, "hotmail.it": ProviderMicrosoft, "hotmail.es": ProviderMicrosoft,
	"live.co.uk": ProviderMicrosoft, "live.fr": ProviderMicrosoft, "outlook.fr": ProviderMicrosoft,
	"outlook.de": ProviderMicrosoft, "windowslive.com": ProviderMicrosoft, "passport.com": ProviderMicrosoft,
	"gmail.com": ProviderGoogle, "googlemail.com": ProviderGoogle,
	"yahoo.com": ProviderYahoo, "ymail.com": ProviderYahoo, "rocketmail.com": ProviderYahoo,
	"aol.com": ProviderYahoo, "aim.com": ProviderYahoo, "aol.jp": ProviderYahoo, "yahoo.co.uk": ProviderYahoo,
	"yahoo.fr": ProviderYahoo, "yahoo.de": ProviderYahoo, "yahoo.com.tw": ProviderYahoo, "yahoo.ca": ProviderYahoo,
	"yahoo.co.jp": ProviderYahooJapan, "ybb.ne.jp": ProviderYahooJapan, "ymail.ne.jp": ProviderYahooJapan,
	"icloud.com": ProviderApple, "me.com": ProviderApple, "mac.com": ProviderApple, "privaterelay.appleid.com": ProviderApple,
	"docomo.ne.jp": ProviderDocomo, "mopera.net": ProviderDocomo,
	"ezweb.ne.jp": ProviderAU, "au.com": ProviderAU, "uqmobile.jp": ProviderAU, "auone-net.jp": ProviderAU, "dion.ne.jp": ProviderAU,
	"softbank.ne.jp": ProviderSoftBank, "i.softbank.jp": ProviderSoftBank, "disney.ne.jp": ProviderSoftBank,
	"ymobile.ne.jp": ProviderSoftBank, "y-mobile.ne.jp": ProviderSoftBank, "ymobile1.ne.jp": ProviderSoftBank,
	"rakumail.jp": ProviderRakuten, "rakuten.jp": ProviderRakuten,
	"nifty.com": ProviderNifty, "nifty.ne.jp": ProviderNifty,
	"biglobe.ne.jp": ProviderBiglobe,
	"ocn.ne.jp":     ProviderOCN,
	"so-net.ne.jp":  ProviderSoNet,
	"plala.or.jp":   ProviderPlala,
}

// providerSuffixes maps domain (or host) suffixes to providers, for subdomains
// of the consumer domains and for MX host names.
var providerSuffixes = []struct{ suffix, provider string }{
	{".protection.outlook.com", ProviderMicrosoft}, {".mx.microsoft", ProviderMicrosoft},
	{".outlook.com", ProviderMicrosoft}, {".hotmail.com", ProviderMicrosoft}, {".prod.outlook.com", ProviderMicrosoft},
	{"gmail-smtp-in.l.google.com", ProviderGoogle}, {"aspmx.l.google.com", ProviderGoogle},
	{".googlemail.com", ProviderGoogle}, {"smtp.google.com", ProviderGoogle}, {".google.com", ProviderGoogle},
	{".yahoodns.net", ProviderYahoo}, {".yahoo.com", ProviderYahoo}, {".aol.com", ProviderYahoo},
	{".yahoo.co.jp", ProviderYahooJapan},
	{".mail.icloud.com", ProviderApple}, {".me.com", ProviderApple}, {".icloud.com", ProviderApple},
	{".docomo.ne.jp", ProviderDocomo},
	{".ezweb.ne.jp", ProviderAU}, {".au.com", ProviderAU}, {".auone-net.jp", ProviderAU}, {".dion.ne.jp", ProviderAU},
	{".softbank.ne.jp", ProviderSoftBank}, {".softbank.jp", ProviderSoftBank}, {".vodafone.ne.jp", ProviderSoftBank},
	{".nifty.com", ProviderNifty}, {".biglobe.ne.jp", ProviderBiglobe},
	{".ocn.ne.jp", ProviderOCN}, {".ocn.ad.jp", ProviderOCN}, {".so-net.ne.jp", ProviderSoNet}, {".plala.or.jp", ProviderPlala},
}

// ProviderOf decides the recipient's provider from the address, the remote
// MTA host and the receiver's text. It returns ProviderOther when unknown.
func ProviderOf(address, remoteMTA, diagnostic string) string {
	d := domainOf(address)
	if p, ok := providerDomains[d]; ok {
		return p
	}
	if p := bySuffix("." + d); p != "" && !strings.HasSuffix(d, ".google.com") {
		return p
	}
	if remoteMTA != "" {
		if p := bySuffix("." + strings.ToLower(strings.TrimSuffix(remoteMTA, "."))); p != "" {
			return p
		}
	}
	// The first provider in providerTexts with a fingerprint in the text.
	if id := providerTextSet.first(diagnostic); id >= 0 {
		return providerTextOf[id]
	}
	return ProviderOther
}

// providerTexts are fingerprints of providers in receivers' texts, lowercase;
// the first provider in this order with a match wins.
var providerTexts = []struct {
	provider string
	phrases  []string
}{
	{ProviderMicrosoft, []string{".protection.outlook.com", "postmaster.live.com", "sender.office.com", "aka.ms/", "outlook.com/", "prod.outlook.com", "resolver.adr.", "(s3140)", "(s775)"}},
	{ProviderGoogle, []string{"- gsmtp", "support.google.com/mail", "gmail-smtp-in", "aspmx.l.google.com"}},
	{ProviderYahoo, []string{"yahoodns.net", "postmaster.yahooinc.com", "senders.yahooinc.com", "help.yahoo.com", "yahoo.com/"}},
	{ProviderYahooJapan, []string{"mail.yahoo.co.jp", "yahoo-help.jp"}},
	{ProviderApple, []string{"mail.icloud.com", "support.apple.com"}},
}

// providerTextSet compiles providerTexts; providerTextOf maps a phrase id to
// its provider. Matching folds ASCII case, as lowerASCII did.
var providerTextSet, providerTextOf = func() (*phraseSet, []string) {
	var phrases, of []string
	for _, p := range providerTexts {
		for _, ph := range p.phrases {
			phrases = append(phrases, ph)
			of = append(of, p.provider)
		}
	}
	return newPhraseSet(phrases), of
}()

func bySuffix(host string) string {
	for i, s := range providerSuffixes {
		if strings.HasSuffix(host, s.suffix) || host == dottedSuffixes[i] {
			return s.provider
		}
	}
	return ""
}

// dottedSuffixes[i] is providerSuffixes[i].suffix with one leading dot: the
// whole host name a suffix also names ("gmail-smtp-in.l.google.com").
var dottedSuffixes = func() []string {
	out := make([]string, len(providerSuffixes))
	for i, s := range providerSuffixes {
		out[i] = "." + strings.TrimPrefix(s.suffix, ".")
	}
	return out
}()
