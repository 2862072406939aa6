package main

import "github.com/pingstreams/pingauth/internal/audit"

func auditEvent(action, tenantID, projectID, target string) audit.Event {
	return audit.Event{Actor: cliActor, Action: action, TenantID: tenantID, ProjectID: projectID, Target: target}
}
