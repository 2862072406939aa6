package store

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"
)

// First loads the row of T matching conds, as gorm's First does (the lowest
// primary key among the matches). When no row matches it returns notFound,
// the caller's apperr.NotFound error with its client-safe message; any other
// error is wrapped as "<op>: <err>". db may be a transaction.
//
//	p, err := store.First[Project](ctx, r.db.DB, "get project", apperr.NotFound("project %s not found", id), "id = ?", id)
func First[T any](ctx context.Context, db *gorm.DB, op string, notFound error, conds ...any) (*T, error) {
	var v T
	err := db.WithContext(ctx).First(&v, conds...).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, notFound
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return &v, nil
}
