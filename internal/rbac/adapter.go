package rbac

import (
	"context"
	"fmt"
	"time"

	"github.com/casbin/casbin/v2/model"
	"github.com/casbin/casbin/v2/persist"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/pingstreams/pingauth/internal/store"
)

// Rule is one row of casbin_rule.
type Rule struct {
	ID    int64 `gorm:"primaryKey"`
	Ptype string
	V0    string
	V1    string
	V2    string
	V3    string
	V4    string
	V5    string
}

// TableName binds Rule to casbin_rule.
func (Rule) TableName() string { return "casbin_rule" }

func ruleOf(ptype string, vals []string) Rule {
	r := Rule{Ptype: ptype}
	dst := []*string{&r.V0, &r.V1, &r.V2, &r.V3, &r.V4, &r.V5}
	for i, v := range vals {
		if i < len(dst) {
			*dst[i] = v
		}
	}
	return r
}

func (r Rule) values() []string {
	vals := []string{r.V0, r.V1, r.V2, r.V3, r.V4, r.V5}
	n := len(vals)
	for n > 0 && vals[n-1] == "" {
		n--
	}
	return vals[:n]
}

// Adapter persists Casbin policy in the casbin_rule table through our store.DB
// (PostgreSQL or SQLite). It implements persist.Adapter and persist.ContextAdapter.
type Adapter struct{ db *store.DB }

// NewAdapter returns an adapter over db.
func NewAdapter(db *store.DB) *Adapter { return &Adapter{db: db} }

var (
	_ persist.Adapter        = (*Adapter)(nil)
	_ persist.ContextAdapter = (*Adapter)(nil)
)

// loadTimeout bounds the context-free Adapter methods Casbin calls at construction.
const loadTimeout = 30 * time.Second

func background() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), loadTimeout)
}

// LoadPolicy implements persist.Adapter (used by casbin.NewEnforcer only).
func (a *Adapter) LoadPolicy(m model.Model) error {
	ctx, cancel := background()
	defer cancel()
	return a.LoadPolicyCtx(ctx, m)
}

// SavePolicy implements persist.Adapter.
func (a *Adapter) SavePolicy(m model.Model) error {
	ctx, cancel := background()
	defer cancel()
	return a.SavePolicyCtx(ctx, m)
}

// AddPolicy implements persist.Adapter.
func (a *Adapter) AddPolicy(sec, ptype string, rule []string) error {
	ctx, cancel := background()
	defer cancel()
	return a.AddPolicyCtx(ctx, sec, ptype, rule)
}

// RemovePolicy implements persist.Adapter.
func (a *Adapter) RemovePolicy(sec, ptype string, rule []string) error {
	ctx, cancel := background()
	defer cancel()
	return a.RemovePolicyCtx(ctx, sec, ptype, rule)
}

// RemoveFilteredPolicy implements persist.Adapter.
func (a *Adapter) RemoveFilteredPolicy(sec, ptype string, fieldIndex int, fieldValues ...string) error {
	ctx, cancel := background()
	defer cancel()
	return a.RemoveFilteredPolicyCtx(ctx, sec, ptype, fieldIndex, fieldValues...)
}

// LoadPolicyCtx implements persist.ContextAdapter.
func (a *Adapter) LoadPolicyCtx(ctx context.Context, m model.Model) error {
	var rows []Rule
	if err := a.db.WithContext(ctx).Order("id").Find(&rows).Error; err != nil {
		return fmt.Errorf("rbac: load policy: %w", err)
	}
	for _, r := range rows {
		if _, ok := m[r.Ptype[:1]]; !ok {
			continue
		}
		if _, ok := m[r.Ptype[:1]][r.Ptype]; !ok {
			continue
		}
		if err := persist.LoadPolicyArray(append([]string{r.Ptype}, r.values()...), m); err != nil {
			return fmt.Errorf("rbac: load rule %d: %w", r.ID, err)
		}
	}
	return nil
}

// SavePolicyCtx implements persist.ContextAdapter: replaces every stored rule.
func (a *Adapter) SavePolicyCtx(ctx context.Context, m model.Model) error {
	var rows []Rule
	for _, sec := range []string{"p", "g"} {
		for ptype, ast := range m[sec] {
			for _, rule := range ast.Policy {
				rows = append(rows, ruleOf(ptype, rule))
			}
		}
	}
	return a.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("1 = 1").Delete(&Rule{}).Error; err != nil {
			return fmt.Errorf("rbac: save policy: %w", err)
		}
		if len(rows) == 0 {
			return nil
		}
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).CreateInBatches(rows, 200).Error; err != nil {
			return fmt.Errorf("rbac: save policy: %w", err)
		}
		return nil
	})
}

// AddPolicyCtx implements persist.ContextAdapter; adding an existing rule is a no-op.
func (a *Adapter) AddPolicyCtx(ctx context.Context, _, ptype string, rule []string) error {
	r := ruleOf(ptype, rule)
	if err := a.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&r).Error; err != nil {
		return fmt.Errorf("rbac: add rule: %w", err)
	}
	return nil
}

// RemovePolicyCtx implements persist.ContextAdapter.
func (a *Adapter) RemovePolicyCtx(ctx context.Context, _, ptype string, rule []string) error {
	r := ruleOf(ptype, rule)
	err := a.db.WithContext(ctx).Where("ptype = ? AND v0 = ? AND v1 = ? AND v2 = ? AND v3 = ? AND v4 = ? AND v5 = ?",
		r.Ptype, r.V0, r.V1, r.V2, r.V3, r.V4, r.V5).Delete(&Rule{}).Error
	if err != nil {
		return fmt.Errorf("rbac: remove rule: %w", err)
	}
	return nil
}

// RemoveFilteredPolicyCtx implements persist.ContextAdapter.
func (a *Adapter) RemoveFilteredPolicyCtx(ctx context.Context, _, ptype string, fieldIndex int, fieldValues ...string) error {
	if fieldIndex < 0 || fieldIndex+len(fieldValues) > 6 {
		return fmt.Errorf("rbac: filter out of range")
	}
	q := a.db.WithContext(ctx).Where("ptype = ?", ptype)
	for i, v := range fieldValues {
		if v != "" {
			q = q.Where(fmt.Sprintf("v%d = ?", fieldIndex+i), v)
		}
	}
	if err := q.Delete(&Rule{}).Error; err != nil {
		return fmt.Errorf("rbac: remove rules: %w", err)
	}
	return nil
}
