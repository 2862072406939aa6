package project

import (
	"context"
	"fmt"
	"time"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/store"
)

// SetTenantRequireTOTP turns the tenant's TOTP enforcement on or off.
func (r *Repo) SetTenantRequireTOTP(ctx context.Context, id string, on bool) error {
	return r.db.Change(ctx, store.KindTenant, id, func(ctx context.Context) error {
		res := r.db.WithContext(ctx).Model(&Tenant{}).Where("id = ?", id).
			Updates(map[string]any{"require_totp": on, "updated_at": time.Now().UTC()})
		if res.Error != nil {
			return fmt.Errorf("set tenant totp policy: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return apperr.NotFound("tenant %s not found", id)
		}
		return nil
	})
}

// TenantsRequiringTOTP returns which of ids require TOTP of their members.
func (r *Repo) TenantsRequiringTOTP(ctx context.Context, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var out []string
	if err := r.db.WithContext(ctx).Model(&Tenant{}).Where("id IN ? AND require_totp = ?", ids, true).Pluck("id", &out).Error; err != nil {
		return nil, fmt.Errorf("tenant totp policy: %w", err)
	}
	return out, nil
}
