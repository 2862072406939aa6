package operator

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/enduser"
	"github.com/pingstreams/pingauth/internal/store"
)

// Invitation is a one-time link inviting an email to a tenant role. Only the
// SHA-256 of its token is stored; the raw token is returned once, at
// creation.
type Invitation struct {
	ID         string     `gorm:"primaryKey" json:"id"`
	TenantID   string     `json:"tenant_id"`
	Email      string     `json:"email"`
	Role       string     `json:"role"`
	TokenHash  string     `json:"-"`
	InvitedBy  string     `json:"invited_by"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	AcceptedAt *time.Time `json:"accepted_at,omitempty"`
	AcceptedBy string     `json:"-"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// TableName binds Invitation to invitations.
func (Invitation) TableName() string { return "invitations" }

// InvitationState is what an invitation is at an instant.
type InvitationState string

// Invitation states.
const (
	InvitationPending  InvitationState = "pending"
	InvitationAccepted InvitationState = "accepted"
	InvitationRevoked  InvitationState = "revoked"
	InvitationExpired  InvitationState = "expired"
)

// State returns the invitation's state at now.
func (i *Invitation) State(now time.Time) InvitationState {
	switch {
	case i.AcceptedAt != nil:
		return InvitationAccepted
	case i.RevokedAt != nil:
		return InvitationRevoked
	case !now.Before(i.ExpiresAt):
		return InvitationExpired
	}
	return InvitationPending
}

// InvitationTokenLen is the length of a raw invitation token (32 random
// bytes, base64url without padding).
const InvitationTokenLen = 43

// ErrInvitationNotFound answers every token that names no invitation.
var ErrInvitationNotFound = apperr.NotFound("invitation link not found")

// CreateInvitation stores inv (its id, token hash and created time are
// set here) and returns the raw token, which is never stored.
func (r *Repo) CreateInvitation(ctx context.Context, inv *Invitation) (string, error) {
	email, err := enduser.NormalizeEmail(inv.Email)
	if err != nil {
		return "", err
	}
	if email == "" {
		return "", apperr.Invalid("email", "email is required")
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("invitation token: %w", err)
	}
	raw := base64.RawURLEncoding.EncodeToString(b[:])
	var id [12]byte
	_, _ = rand.Read(id[:])
	inv.ID = "inv_" + hex.EncodeToString(id[:])
	inv.Email = email
	inv.TokenHash = Digest(raw)
	inv.CreatedAt = r.now()
	if err := r.db.WithContext(ctx).Create(inv).Error; err != nil {
		return "", fmt.Errorf("create invitation: %w", err)
	}
	return raw, nil
}

// InvitationByToken loads the invitation of a raw token, whatever its state.
func (r *Repo) InvitationByToken(ctx context.Context, raw string) (*Invitation, error) {
	if len(raw) != InvitationTokenLen {
		return nil, ErrInvitationNotFound
	}
	h := Digest(raw)
	inv, err := store.First[Invitation](ctx, r.db.DB, "get invitation", ErrInvitationNotFound, "token_hash = ?", h)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(inv.TokenHash), []byte(h)) != 1 {
		return nil, ErrInvitationNotFound
	}
	return inv, nil
}

// Invitation loads an invitation of tenant by id.
func (r *Repo) Invitation(ctx context.Context, tenant, id string) (*Invitation, error) {
	return store.First[Invitation](ctx, r.db.DB, "get invitation", apperr.NotFound("invitation not found"), "tenant_id = ? AND id = ?", tenant, id)
}

// ClaimInvitation marks a pending invitation accepted by operatorID at now.
// Exactly one caller succeeds; the others (and a revoked or expired
// invitation) get a conflict.
func (r *Repo) ClaimInvitation(ctx context.Context, id, operatorID string, now time.Time) error {
	res := r.db.WithContext(ctx).Model(&Invitation{}).
		Where("id = ? AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > ?", id, now).
		Updates(map[string]any{"accepted_at": now, "accepted_by": operatorID})
	if res.Error != nil {
		return fmt.Errorf("claim invitation: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return apperr.Conflict("this invitation link was already used, revoked or has expired")
	}
	return nil
}

// RevokeInvitation revokes a pending invitation of tenant.
func (r *Repo) RevokeInvitation(ctx context.Context, tenant, id string, now time.Time) (*Invitation, error) {
	inv, err := r.Invitation(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	res := r.db.WithContext(ctx).Model(&Invitation{}).
		Where("id = ? AND accepted_at IS NULL AND revoked_at IS NULL", id).
		Update("revoked_at", now)
	if res.Error != nil {
		return nil, fmt.Errorf("revoke invitation: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return nil, apperr.Conflict("invitation is not pending (already accepted or revoked)")
	}
	inv.RevokedAt = &now
	return inv, nil
}

// PendingInvitations lists tenant's invitations neither accepted, revoked
// nor expired at now, newest first.
func (r *Repo) PendingInvitations(ctx context.Context, tenant string, now time.Time) ([]Invitation, error) {
	out := []Invitation{}
	err := r.db.WithContext(ctx).
		Where("tenant_id = ? AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > ?", tenant, now).
		Order("created_at DESC").Limit(500).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list invitations: %w", err)
	}
	return out, nil
}

// InTx runs fn in one database transaction (see store.DB.InTx).
func (r *Repo) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	return r.db.InTx(ctx, fn)
}
