package bounce

import (
	"encoding/json"
	"strings"
)

// Amazon SES delivers bounce and complaint notifications as JSON (through
// SNS to an email subscription): {"notificationType":"Bounce","bounce":{...}}.

type sesNotification struct {
	NotificationType string `json:"notificationType"`
	Bounce           struct {
		BounceType        string `json:"bounceType"`
		ReportingMTA      string `json:"reportingMTA"`
		RemoteMTAIP       string `json:"remoteMtaIp"`
		BouncedRecipients []struct {
			EmailAddress   string `json:"emailAddress"`
			Action         string `json:"action"`
			Status         string `json:"status"`
			DiagnosticCode string `json:"diagnosticCode"`
		} `json:"bouncedRecipients"`
	} `json:"bounce"`
	Complaint struct {
		ComplaintFeedbackType string `json:"complaintFeedbackType"`
		ComplainedRecipients  []struct {
			EmailAddress string `json:"emailAddress"`
		} `json:"complainedRecipients"`
	} `json:"complaint"`
	Delivery struct {
		Recipients   []string `json:"recipients"`
		ReportingMTA string   `json:"reportingMTA"`
		SMTPResponse string   `json:"smtpResponse"`
	} `json:"delivery"`
	Mail struct {
		Source      string `json:"source"`
		SourceIP    string `json:"sourceIp"`
		MessageID   string `json:"messageId"`
		Destination []string
		CommonHdrs  struct {
			From    []string `json:"from"`
			To      []string `json:"to"`
			Subject string   `json:"subject"`
			ID      string   `json:"messageId"`
		} `json:"commonHeaders"`
	} `json:"mail"`
}

// fromSES reads an SES notification in the text; ok is false when there is none.
func (a *analysis) fromSES() (rcpts []Recipient, ok bool) {
	n, ok := decodeSES(a.text)
	if !ok {
		return nil, false
	}
	o := &a.rep.Original
	o.MessageID = strings.Trim(n.Mail.CommonHdrs.ID, "<>")
	if len(n.Mail.CommonHdrs.From) > 0 {
		o.From = firstAddr(n.Mail.CommonHdrs.From[0])
	}
	if len(n.Mail.CommonHdrs.To) > 0 {
		o.To = firstAddr(n.Mail.CommonHdrs.To[0])
	}
	o.Subject = n.Mail.CommonHdrs.Subject
	switch strings.ToLower(n.NotificationType) {
	case "bounce":
		a.rep.ReportingMTA = typedValue(n.Bounce.ReportingMTA)
		for i, b := range n.Bounce.BouncedRecipients {
			if i >= maxRecipients {
				a.rep.Truncated = true
				break
			}
			action := strings.ToLower(b.Action)
			if action == "" {
				action = ActionFailed
				if strings.EqualFold(n.Bounce.BounceType, "Transient") {
					action = ActionDelayed
				}
			}
			rcpts = append(rcpts, a.recipient(found{addr: cleanAddr(b.EmailAddress), action: action, status: findStatus(b.Status), diag: unfoldSMTP(typedValue(b.DiagnosticCode)), from: srcSES}))
		}
		return rcpts, true
	case "complaint":
		a.rep.Kind = KindFeedback
		a.rep.FeedbackType = strings.ToLower(n.Complaint.ComplaintFeedbackType)
		for _, c := range n.Complaint.ComplainedRecipients {
			ad := cleanAddr(c.EmailAddress)
			a.rep.Recipients = append(a.rep.Recipients, Recipient{Address: ad, Reason: ReasonFeedback, Provider: ProviderOf(ad, "", ""), Diagnostic: a.rep.FeedbackType})
		}
		return nil, true
	case "delivery":
		a.rep.ReportingMTA = n.Delivery.ReportingMTA
		for i, r := range n.Delivery.Recipients {
			if i >= maxRecipients {
				a.rep.Truncated = true
				break
			}
			rcpts = append(rcpts, a.recipient(found{addr: cleanAddr(r), action: ActionDelivered, status: "2.0.0", diag: n.Delivery.SMTPResponse, from: srcSES}))
		}
		return rcpts, true
	}
	return nil, false
}

// decodeSES finds an SES notification in text: bare, or wrapped in an SNS
// envelope whose "Message" is the notification as a JSON string.
func decodeSES(text string) (sesNotification, bool) {
	var n sesNotification
	decode := func(src string, v any) bool {
		if json.NewDecoder(strings.NewReader(src)).Decode(v) == nil {
			return true
		}
		// Long JSON lines arrive wrapped by the mail system: join them.
		return json.NewDecoder(strings.NewReader(strings.ReplaceAll(src, "\n", ""))).Decode(v) == nil
	}
	if i := strings.Index(text, `{"notificationType"`); i >= 0 {
		return n, decode(text[i:], &n) && n.NotificationType != ""
	}
	if i := strings.Index(text, `"Type" : "Notification"`); i >= 0 {
		if j := strings.LastIndexByte(text[:i], '{'); j >= 0 {
			var env struct{ Message string }
			if decode(text[j:], &env) && strings.Contains(env.Message, "notificationType") {
				return n, decode(env.Message, &n) && n.NotificationType != ""
			}
		}
	}
	return n, false
}
