package events

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Record is one row of the audit table.
type Record struct {
	ID         uuid.UUID
	UserID     uuid.UUID // uuid.Nil for region-wide events (defense mode, keys)
	HomeRegion string
	Kind       string
	At         time.Time
	IP         string
	UserAgent  string
	Data       map[string]any
	// PublishedAt is when a relay handed the event to the broker.
	PublishedAt *time.Time
}

// Key is the record's primary key, enough to mark it published.
type Key struct {
	UserID uuid.UUID
	At     time.Time
	ID     uuid.UUID
}

// Key returns the record's key.
func (r Record) Key() Key { return Key{UserID: r.UserID, At: r.At, ID: r.ID} }

// PartitionKey is what keeps one user's events in order: the Kafka record
// key and the CloudEvents partitionkey. Region-wide events are keyed by
// their region.
func (r Record) PartitionKey() string {
	if r.UserID == uuid.Nil {
		return "region:" + r.HomeRegion
	}
	return r.UserID.String()
}

// forbidden are data members never published, whatever a caller put in
// the detail: secrets and direct identifiers (an email hash is fine).
var forbidden = map[string]bool{"password": true, "token": true, "refresh_token": true, "access_token": true,
	"secret": true, "email": true, "code": true, "totp_code": true, "recovery_code": true, "device_token": true}

// CloudEvent is an event in the CloudEvents 1.0 JSON format (structured
// mode), with the partitionkey extension (CloudEvents "Partitioning").
type CloudEvent struct {
	SpecVersion     string         `json:"specversion"`
	ID              string         `json:"id"`
	Source          string         `json:"source"`
	Type            string         `json:"type"`
	Subject         string         `json:"subject,omitempty"`
	Time            string         `json:"time"`
	DataContentType string         `json:"datacontenttype"`
	PartitionKey    string         `json:"partitionkey"`
	Data            map[string]any `json:"data"`
}

// ToCloudEvent renders the record. data carries user_id and home_region,
// the client address and user agent when known, the spec's fixed members
// and the stored detail minus anything forbidden.
func ToCloudEvent(r Record) CloudEvent {
	s, _ := Lookup(r.Kind)
	data := make(map[string]any, len(r.Data)+6)
	for k, v := range r.Data {
		if forbidden[strings.ToLower(k)] {
			continue
		}
		data[k] = v
	}
	// The refresh-reuse detail names the client address as ip.
	if ip, ok := data["ip"].(string); ok {
		delete(data, "ip")
		if r.IP == "" {
			r.IP = ip
		}
	}
	if ua, ok := data["user_agent"].(string); ok && r.UserAgent == "" {
		r.UserAgent = ua
	}
	delete(data, "user_agent")
	for k, v := range s.Data[r.Kind] {
		data[k] = v
	}
	if r.UserID != uuid.Nil {
		data["user_id"] = r.UserID.String()
	}
	data["home_region"] = r.HomeRegion
	if r.IP != "" {
		data["client_ip"] = r.IP
	}
	if r.UserAgent != "" {
		data["user_agent"] = r.UserAgent
	}
	ce := CloudEvent{SpecVersion: "1.0", ID: r.ID.String(), Source: "/gatehouse/regions/" + r.HomeRegion, Type: s.Type,
		Time: r.At.UTC().Format(time.RFC3339Nano), DataContentType: "application/json", PartitionKey: r.PartitionKey(), Data: data}
	if r.UserID != uuid.Nil {
		ce.Subject = r.UserID.String()
	}
	return ce
}

// Encode is the record's CloudEvent as JSON.
func Encode(r Record) ([]byte, error) {
	b, err := json.Marshal(ToCloudEvent(r))
	if err != nil {
		return nil, fmt.Errorf("events: encode %s: %w", r.ID, err)
	}
	return b, nil
}
