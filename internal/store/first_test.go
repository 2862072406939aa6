package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/store"
	"github.com/pingstreams/pingauth/internal/store/storetest"
)

type tenantRow struct {
	ID        string `gorm:"primaryKey"`
	Name      string
	CreatedAt time.Time
	UpdatedAt time.Time
}

func (tenantRow) TableName() string { return "tenants" }

func TestFirst(t *testing.T) {
	t.Parallel()
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for _, id := range []string{"b", "a", "c"} {
			if err := db.WithContext(ctx).Create(&tenantRow{ID: id, Name: "same"}).Error; err != nil {
				t.Fatal(err)
			}
		}
		notFound := apperr.NotFound("tenant %s not found", "x")
		cases := []struct {
			name    string
			conds   []any
			wantID  string
			wantErr error  // errors.Is target
			wantMsg string // exact error text
		}{
			{name: "by primary key", conds: []any{"id = ?", "c"}, wantID: "c"},
			{name: "lowest primary key of the matches", conds: []any{"name = ?", "same"}, wantID: "a"},
			{name: "no conditions", wantID: "a"},
			{name: "no match is the caller's error", conds: []any{"id = ?", "x"}, wantErr: apperr.ErrNotFound, wantMsg: "tenant x not found"},
			{name: "other errors are wrapped", conds: []any{"no_such_column = ?", 1}, wantMsg: "get tenant: "},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				got, err := store.First[tenantRow](ctx, db.DB, "get tenant", notFound, tc.conds...)
				if tc.wantMsg == "" {
					if err != nil || got == nil || got.ID != tc.wantID {
						t.Fatalf("First = %+v, %v; want id %q", got, err, tc.wantID)
					}
					return
				}
				if got != nil || err == nil || !strings.HasPrefix(err.Error(), tc.wantMsg) {
					t.Fatalf("First = %+v, %v; want an error starting with %q", got, err, tc.wantMsg)
				}
				if tc.wantErr != nil && (err != notFound || !errors.Is(err, tc.wantErr)) {
					t.Fatalf("err = %v, want the notFound error passed in", err)
				}
				if tc.wantErr == nil && errors.Is(err, apperr.ErrNotFound) {
					t.Fatalf("query error %v reported as not found", err)
				}
			})
		}
		// It works inside a transaction too.
		err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			got, err := store.First[tenantRow](ctx, tx, "get tenant", notFound, "id = ?", "b")
			if err == nil && got.ID != "b" {
				t.Errorf("in transaction: got %q", got.ID)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
