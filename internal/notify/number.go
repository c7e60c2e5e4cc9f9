package notify

import "fmt"

// Number is how every notice names its incident for the office: 「通知 #12」,
// the same in Slack, in mail and on stdout. An office does not speak of
// incidents; the code keeps the word (IncidentID, store incidents).
func Number(incidentID int64) string { return fmt.Sprintf("通知 #%d", incidentID) }
