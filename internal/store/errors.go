package store

import (
	"errors"

	"gorm.io/gorm"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/dberr"
)

// Client-safe messages of classified errors.
const (
	msgUnavailable = "database temporarily unavailable; try again later"
	msgFull        = "storage is full; changes cannot be saved right now (reads still work)"
)

// Classify wraps err as apperr.ErrUnavailable (HTTP 503) when dberr.IsUnavailable,
// keeping the cause in the chain; other errors are returned unchanged.
func Classify(err error) error {
	if err == nil || errors.Is(err, apperr.ErrUnavailable) || !dberr.IsUnavailable(err) {
		return err
	}
	if dberr.IsStorageFull(err) {
		return apperr.Unavailable(msgFull, err)
	}
	return apperr.Unavailable(msgUnavailable, err)
}

// registerClassifier makes every GORM operation report outage-type driver
// errors as apperr.ErrUnavailable, so repositories need no special handling
// and the HTTP layer answers 503 instead of 500.
func registerClassifier(db *gorm.DB) error {
	fn := func(tx *gorm.DB) {
		if tx.Error != nil {
			tx.Error = Classify(tx.Error)
		}
	}
	cb := db.Callback()
	for _, err := range []error{
		cb.Create().Register("pingauth:classify_errors", fn),
		cb.Query().Register("pingauth:classify_errors", fn),
		cb.Update().Register("pingauth:classify_errors", fn),
		cb.Delete().Register("pingauth:classify_errors", fn),
		cb.Row().Register("pingauth:classify_errors", fn),
		cb.Raw().Register("pingauth:classify_errors", fn),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}
