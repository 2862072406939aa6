package secret

import (
	"context"
	"fmt"
)

// CurrentVersions returns the current (not superseded) version of each of
// the given projects in one query: the summary a page of projects shows.
// Projects without a secret are absent.
func (m *Manager) CurrentVersions(ctx context.Context, projectIDs []string) (map[string]Meta, error) {
	out := make(map[string]Meta, len(projectIDs))
	if len(projectIDs) == 0 {
		return out, nil
	}
	var rows []Meta
	if err := m.db.WithContext(ctx).Where("project_id IN ? AND superseded_at IS NULL", projectIDs).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("secret: current versions: %w", err)
	}
	for _, r := range rows {
		if cur, ok := out[r.ProjectID]; !ok || r.Version > cur.Version {
			out[r.ProjectID] = r
		}
	}
	return out, nil
}
