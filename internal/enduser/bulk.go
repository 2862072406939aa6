package enduser

import (
	"context"
	"fmt"

	"github.com/pingstreams/pingauth/internal/apperr"
	"github.com/pingstreams/pingauth/internal/store"
)

// What a bulk import (admin.Service.ImportUsers) needs: every row checked
// first (PrepareNew, Taken), the passwords hashed in the bounded pool
// (HashPassword), then all rows stored in one transaction (CreateAll).

// PrepareNew normalises and checks u and password exactly as Create does
// (fields, deny-lists, password policy) without hashing or storing anything.
func (r *Repo) PrepareNew(ctx context.Context, u *User, password string) error {
	if err := u.validate(); err != nil {
		return err
	}
	if err := r.checkEmail(ctx, u); err != nil {
		return err
	}
	if password != "" {
		if err := ValidatePassword(password); err != nil {
			return err
		}
	}
	return nil
}

// HashPassword hashes password in the hasher's bounded pool (argon2id).
func (r *Repo) HashPassword(ctx context.Context, password string) (string, error) {
	return r.hasher.Hash(ctx, password)
}

// TakenLogins are the values of a project's existing end-users that a
// batch asked about (Taken), each set keyed by the stored value.
type TakenLogins struct {
	Emails, Usernames, ExternalIDs map[string]bool
}

// takenChunk bounds the values of one IN list.
const takenChunk = 500

// Taken reports which of emails (normalised), usernames and externalIDs
// already belong to an end-user of the project.
func (r *Repo) Taken(ctx context.Context, projectID string, emails, usernames, externalIDs []string) (TakenLogins, error) {
	out := TakenLogins{Emails: map[string]bool{}, Usernames: map[string]bool{}, ExternalIDs: map[string]bool{}}
	for _, q := range []struct {
		col  string
		vals []string
		set  map[string]bool
	}{{"email", emails, out.Emails}, {"username", usernames, out.Usernames}, {"external_id", externalIDs, out.ExternalIDs}} {
		for start := 0; start < len(q.vals); start += takenChunk {
			chunk := q.vals[start:min(start+takenChunk, len(q.vals))]
			var found []string
			if err := r.db.WithContext(ctx).Model(&User{}).Where("project_id = ? AND "+q.col+" IN ?", projectID, chunk).
				Pluck(q.col, &found).Error; err != nil {
				return out, fmt.Errorf("end-users taken (%s): %w", q.col, err)
			}
			for _, v := range found {
				q.set[v] = true
			}
		}
	}
	return out, nil
}

// createChunk bounds the rows of one INSERT.
const createChunk = 100

// CreateAll stores users (prepared with PrepareNew, PasswordHash already set
// or empty) in one transaction: all of them or, on any error, none. A row
// taken meanwhile by another writer fails the whole batch with a conflict.
func (r *Repo) CreateAll(ctx context.Context, users []*User) error {
	for _, u := range users {
		if err := u.validate(); err != nil {
			return err
		}
		if u.ID == "" {
			u.ID = newID()
		}
	}
	if len(users) == 0 {
		return nil
	}
	return r.db.InTx(ctx, func(ctx context.Context) error {
		if err := r.db.WithContext(ctx).CreateInBatches(users, createChunk).Error; err != nil {
			if store.IsUniqueViolation(err) {
				return apperr.Conflict("an end-user with one of these emails, usernames or external_ids was created meanwhile in project %s; nothing was imported", users[0].ProjectID)
			}
			return fmt.Errorf("create end-users: %w", err)
		}
		return nil
	})
}
