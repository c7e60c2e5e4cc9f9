package bounce

import "testing"

// KB.md §2/§3: Outlook.com (consumer) and Microsoft 365 tenants are told
// apart by the receiving host first, then by the recipient's domain; other
// providers pass through.
func TestProviderVariant(t *testing.T) {
	cases := []struct {
		name, provider, addr, remote, want string
	}{
		{"consumer host, consumer domain", ProviderMicrosoft, "user@outlook.jp", "apc.olc.protection.outlook.com", ProviderMicrosoft},
		{"consumer host with a trailing dot", ProviderMicrosoft, "user@live.com", "live-com.olc.protection.outlook.com.", ProviderMicrosoft},
		{"legacy consumer host", ProviderMicrosoft, "user@hotmail.com", "mx3.hotmail.com", ProviderMicrosoft},
		{"consumer domain, no host", ProviderMicrosoft, "user@hotmail.co.jp", "", ProviderMicrosoft},
		{"msn.com, no host", ProviderMicrosoft, "user@msn.com", "", ProviderMicrosoft},
		{"windowslive.com, no host", ProviderMicrosoft, "user@windowslive.com", "", ProviderMicrosoft},
		{"address in brackets", ProviderMicrosoft, " <user@Outlook.com> ", "", ProviderMicrosoft},
		{"tenant host", ProviderMicrosoft, "user@example.com", "example-com.mail.protection.outlook.com", ProviderMicrosoft365},
		{"tenant DNSSEC host", ProviderMicrosoft, "user@example.com", "example-com.j-v1.mx.microsoft", ProviderMicrosoft365},
		{"tenant host, upper case", ProviderMicrosoft, "user@example.com", "EXAMPLE-COM.MAIL.PROTECTION.OUTLOOK.COM", ProviderMicrosoft365},
		{"custom domain, no host", ProviderMicrosoft, "user@example.co.jp", "", ProviderMicrosoft365},
		// The host is what received the mail: it decides over the domain.
		{"consumer domain at a tenant host", ProviderMicrosoft, "user@outlook.com", "example-com.mail.protection.outlook.com", ProviderMicrosoft365},
		{"custom domain at a consumer host", ProviderMicrosoft, "user@example.net", "outlook-com.olc.protection.outlook.com", ProviderMicrosoft},
		{"no address", ProviderMicrosoft, "", "", ProviderMicrosoft},
		{"provider spelled loosely", " Microsoft ", "user@example.com", "", ProviderMicrosoft365},
		{"other provider", ProviderGoogle, "user@example.com", "example-com.mail.protection.outlook.com", ProviderGoogle},
		{"unknown provider", "", "user@example.com", "", ProviderOther},
	}
	for _, c := range cases {
		rc := Recipient{Address: c.addr, RemoteMTA: c.remote, Provider: c.provider}
		if got := rc.ProviderVariant(); got != c.want {
			t.Errorf("%s: ProviderVariant(%q via %q, %q) = %q, want %q", c.name, c.addr, c.remote, c.provider, got, c.want)
		}
	}
}

// The variant refines what ProviderOf found: a tenant's bounce detected by
// its host, and a consumer address, come out as their variants.
func TestProviderVariantAfterProviderOf(t *testing.T) {
	for _, c := range []struct{ addr, remote, want string }{
		{"sales@example.com", "example-com.mail.protection.outlook.com", ProviderMicrosoft365},
		{"taro@outlook.jp", "", ProviderMicrosoft},
		{"ishii@example.com", "aspmx.l.google.com", ProviderGoogle},
	} {
		rc := Recipient{Address: c.addr, RemoteMTA: c.remote, Provider: ProviderOf(c.addr, c.remote, "")}
		if got := rc.ProviderVariant(); got != c.want {
			t.Errorf("%s via %q: %q, want %q", c.addr, c.remote, got, c.want)
		}
	}
}
