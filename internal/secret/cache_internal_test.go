package secret

import (
	"context"
	"fmt"
	"testing"
	"time"
)

type countingLoader struct{}

func (countingLoader) Get(_ context.Context, id string) (*Keyring, error) {
	return &Keyring{ProjectID: id, Current: Version{Version: 1, Value: []byte("k")}}, nil
}

// Invalidating ids (projects rotated, deleted, re-created) must leave no
// state behind per id: earlier builds kept an invalidation counter per id
// forever.
func TestKeyringCacheKeepsNothingPerInvalidatedID(t *testing.T) {
	t.Parallel()
	c := NewKeyringCache(countingLoader{}, time.Hour, nil)
	ctx := context.Background()
	for i := range 500 {
		id := fmt.Sprintf("p%d", i)
		if _, err := c.Get(ctx, id); err != nil {
			t.Fatal(err)
		}
		c.Invalidate(id)
		c.Invalidate("never-loaded-" + id)
	}
	c.InvalidateAll()
	c.mu.RLock()
	defer c.mu.RUnlock()
	if len(c.byProj) != 0 || len(c.loading) != 0 {
		t.Fatalf("after invalidating every id: %d entries, %d cold loads in flight", len(c.byProj), len(c.loading))
	}
}
