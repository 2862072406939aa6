package httpapi_test

import (
	"context"

	"github.com/pingstreams/pingauth/internal/audit"
)

type auditNop struct{}

func (auditNop) Record(context.Context, audit.Event) error { return nil }
