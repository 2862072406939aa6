package app

import (
	"time"

	"github.com/pingstreams/pingauth/internal/rotation"
)

// RotationScheduler returns the scheduled-rotation scheduler over the
// app's policies and admin service (now nil: the wall clock). `serve` runs
// it; every replica may: claims let one of them rotate a due project.
func (a *App) RotationScheduler(now func() time.Time) *rotation.Scheduler {
	return rotation.NewScheduler(rotation.Options{Store: a.Rotations, Target: a.Admin, Log: a.Log, Now: now})
}
