package store

import (
	"context"
	"sync"

	"gorm.io/gorm"
)

// Change kinds published on every committed admin write (see Publisher and
// internal/events). The id is the kind's object: a project id, an API key
// id, a tenant id or an operator id ("" for KindRoles).
const (
	KindProject  = "project"  // project row updated, disabled or deleted
	KindSecret   = "secret"   // project signing secret written (version changed)
	KindAPIKey   = "apikey"   // API key created or revoked (id: key id)
	KindSettings = "settings" // modes, mapping, overrides or blocks of a project
	KindIdP      = "idp"      // issuer config or HS secret of a project
	KindTenant   = "tenant"   // tenant settings (email deny-list)
	KindRoles    = "roles"    // casbin rules: end-user role rules, operator roles
	KindOperator = "operator" // operator disabled, deleted, password, sessions, tokens
)

// KindProjectDelete is published when a project is deleted (with KindProject,
// in the same transaction). Every cache entry for the id goes at once — row,
// settings, secret keyring, IdP, and its API keys, which the cascade removed
// without an event of their own.
const KindProjectDelete = "project_delete"

// Publisher publishes a change inside the transaction that ctx carries
// (internal/events.Bus). Set DB.Events after Open; nil publishes nothing.
type Publisher interface {
	Publish(ctx context.Context, kind, id string) error
}

type txKey struct{}

type txState struct {
	tx *gorm.DB
	mu sync.Mutex
	// after runs once the outermost transaction has committed.
	after []func()
}

// WithContext is gorm's WithContext, except that inside InTx it returns the
// transaction that ctx carries, so every repository write made with the
// context joins the caller's transaction.
func (db *DB) WithContext(ctx context.Context) *gorm.DB {
	if st, ok := ctx.Value(txKey{}).(*txState); ok {
		return st.tx.WithContext(ctx)
	}
	return db.DB.WithContext(ctx)
}

// Tx returns the transaction ctx carries (InTx), or nil.
func Tx(ctx context.Context) *gorm.DB {
	if st, ok := ctx.Value(txKey{}).(*txState); ok {
		return st.tx
	}
	return nil
}

// InTx runs fn in one transaction: repository calls made with the context
// fn receives join it (DB.WithContext), and so does Publish. Nested calls
// join the outer transaction. Functions registered with AfterCommit run
// after the outermost commit, never after a rollback.
func (db *DB) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	if _, ok := ctx.Value(txKey{}).(*txState); ok {
		return fn(ctx)
	}
	st := &txState{}
	err := db.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		st.tx = tx
		return fn(context.WithValue(ctx, txKey{}, st))
	})
	if err != nil {
		return err
	}
	st.mu.Lock()
	after := st.after
	st.mu.Unlock()
	for _, f := range after {
		f()
	}
	return nil
}

// AfterCommit runs f after the transaction ctx carries commits; without one
// it runs f at once.
func AfterCommit(ctx context.Context, f func()) {
	st, ok := ctx.Value(txKey{}).(*txState)
	if !ok {
		f()
		return
	}
	st.mu.Lock()
	st.after = append(st.after, f)
	st.mu.Unlock()
}

// Publish publishes a change through db.Events inside ctx's transaction
// (see Publisher); without Events it does nothing.
func (db *DB) Publish(ctx context.Context, kind, id string) error {
	if db.Events == nil {
		return nil
	}
	return db.Events.Publish(ctx, kind, id)
}

// Change runs write and publishes (kind, id) in one transaction.
func (db *DB) Change(ctx context.Context, kind, id string, write func(ctx context.Context) error) error {
	return db.InTx(ctx, func(ctx context.Context) error {
		if err := write(ctx); err != nil {
			return err
		}
		return db.Publish(ctx, kind, id)
	})
}
