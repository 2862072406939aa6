// Package secrettest holds the contract every secret.Backend (and the Manager
// on top of it) must meet, run against the embedded sealed backend on SQLite
// and PostgreSQL and against a real Vault server; plus wrapper backends that
// count calls or simulate an outage.
package secrettest

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/pingstreams/pingauth/internal/secret"
)

// Counting wraps a Backend and counts calls.
type Counting struct {
	secret.Backend
	Reads, Writes, Deletes atomic.Int64
}

// Read implements secret.Backend.
func (c *Counting) Read(ctx context.Context, projectID string, version int) ([]byte, error) {
	c.Reads.Add(1)
	return c.Backend.Read(ctx, projectID, version)
}

// Write implements secret.Backend.
func (c *Counting) Write(ctx context.Context, projectID string, value []byte) (int, error) {
	c.Writes.Add(1)
	return c.Backend.Write(ctx, projectID, value)
}

// Delete implements secret.Backend.
func (c *Counting) Delete(ctx context.Context, projectID string) error {
	c.Deletes.Add(1)
	return c.Backend.Delete(ctx, projectID)
}

// ErrDown is what a Switchable backend returns while down: a plain transport
// error, as a Vault client returns when the server is unreachable.
var ErrDown = errors.New("dial tcp 127.0.0.1:8200: connect: connection refused")

// Switchable wraps a Backend that can be taken down and brought back.
type Switchable struct {
	secret.Backend
	down atomic.Bool
}

// SetDown makes every call fail with ErrDown (true) or pass through (false).
func (s *Switchable) SetDown(down bool) { s.down.Store(down) }

// Read implements secret.Backend.
func (s *Switchable) Read(ctx context.Context, projectID string, version int) ([]byte, error) {
	if s.down.Load() {
		return nil, ErrDown
	}
	return s.Backend.Read(ctx, projectID, version)
}

// Write implements secret.Backend.
func (s *Switchable) Write(ctx context.Context, projectID string, value []byte) (int, error) {
	if s.down.Load() {
		return 0, ErrDown
	}
	return s.Backend.Write(ctx, projectID, value)
}

// Delete implements secret.Backend.
func (s *Switchable) Delete(ctx context.Context, projectID string) error {
	if s.down.Load() {
		return ErrDown
	}
	return s.Backend.Delete(ctx, projectID)
}

// Ping implements secret.Backend.
func (s *Switchable) Ping(ctx context.Context) error {
	if s.down.Load() {
		return ErrDown
	}
	return s.Backend.Ping(ctx)
}
