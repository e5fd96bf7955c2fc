package provision

import (
	"context"
	"time"

	"github.com/iotbench/iotbench/doctor"
)

// Cloud is what the pipeline needs from a cloud: an identity for a thing,
// a way to watch its topic, and facts for the doctor. Adapters for AWS IoT
// and the local cloud implement it.
type Cloud interface {
	// Kind is "aws" or "local".
	Kind() string
	// EnsureIdentity creates or reuses the thing, its certificate and
	// policy, idempotently (a re-run returns the same identity).
	EnsureIdentity(ctx context.Context, req IdentityRequest, note func(string)) (*Identity, error)
	// Watch subscribes to topic; messages arrive until ctx ends. It must
	// be subscribed when it returns, so nothing published after is missed.
	Watch(ctx context.Context, topic string) (<-chan Message, error)
	// Facts gathers what the cloud knows about this identity.
	Facts(ctx context.Context, q FactsQuery) *doctor.CloudFacts
}

// IdentityRequest asks for a thing's identity.
type IdentityRequest struct {
	Thing string
	MAC   string // aa:bb:cc:dd:ee:ff
	Chip  string
	// KeyType: "rsa" (default, RSA 2048) or "ec" (P-256).
	KeyType string
}

// Identity is what goes onto the board: the DER files and where to connect.
type Identity struct {
	Thing         string
	CertificateID string
	PolicyName    string
	Endpoint      string // host name
	Port          int
	CertDER       []byte
	KeyDER        []byte // secret: never log
	CADER         []byte
	// Reused is true when nothing was created (everything existed).
	Reused bool
}

// Message is one MQTT message seen on a watched topic.
type Message struct {
	Topic    string
	Payload  []byte
	Retained bool
	At       time.Time
}

// FactsQuery says which identity the doctor asks about.
type FactsQuery struct {
	Thing, ClientID, Topic string
	CertificateID          string
	CertDER                []byte
	Endpoint               string // what config.json points at
}
