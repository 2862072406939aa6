package admin

import (
	"context"
	"strings"
	"time"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/project"
	"github.com/pingstreams/pingauth/internal/secret"
)

// MaxGraceSeconds bounds the grace window of a replaced secret (30 days).
const MaxGraceSeconds = 30 * 24 * 3600

// SecretInput is a pasted shared secret.
type SecretInput struct {
	Value string `json:"secret"`
	// GraceSeconds: how long the replaced version still verifies on
	// pingauth's /verify (nil: the deployment default).
	GraceSeconds *int `json:"grace_seconds"`
}

func graceOption(seconds *int) (*time.Duration, error) {
	if seconds == nil {
		return nil, nil
	}
	if *seconds < 0 || *seconds > MaxGraceSeconds {
		return nil, apperr.Invalid("grace_seconds", "grace_seconds must be between 0 and 2592000")
	}
	d := time.Duration(*seconds) * time.Second
	return &d, nil
}

// PutSecret stores a pasted secret as the project's new current version.
// The secret manager records secret.create / secret.rotate itself (never
// the value).
func (s *Service) PutSecret(ctx context.Context, a Actor, p *project.Project, in SecretInput) (secret.Meta, error) {
	grace, err := graceOption(in.GraceSeconds)
	if err != nil {
		return secret.Meta{}, err
	}
	value := strings.TrimSpace(in.Value)
	if value == "" {
		return secret.Meta{}, apperr.Invalid("secret", "the secret is empty: paste the shared secret of the Pingstreams project")
	}
	return s.d.Secrets.Put(ctx, p.ID, []byte(value), secret.WriteOptions{Actor: a.Email, Grace: grace})
}

// SecretSummary is what the console and the API show about a project's
// secret (never its value).
type SecretSummary struct {
	Configured   bool          `json:"configured"`
	Version      int           `json:"version,omitempty"`
	Source       string        `json:"source,omitempty"`
	Backend      string        `json:"backend,omitempty"`
	LastRotation *time.Time    `json:"last_rotation,omitempty"`
	RotatedBy    string        `json:"rotated_by,omitempty"`
	Versions     []secret.Meta `json:"versions"`
}

// SecretInfo summarises the project's secret versions.
func (s *Service) SecretInfo(ctx context.Context, projectID string) (SecretSummary, error) {
	vs, err := s.d.Secrets.Versions(ctx, projectID)
	if err != nil {
		return SecretSummary{}, err
	}
	out := SecretSummary{Versions: vs}
	if out.Versions == nil {
		out.Versions = []secret.Meta{}
	}
	for _, v := range vs {
		if v.SupersededAt == nil {
			at := v.CreatedAt
			out.Configured, out.Version, out.Source, out.Backend, out.LastRotation, out.RotatedBy = true, v.Version, v.Source, v.Backend, &at, v.CreatedBy
			break
		}
	}
	return out, nil
}
