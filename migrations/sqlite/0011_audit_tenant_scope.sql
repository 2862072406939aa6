-- Audit events are read per tenant AND project (issue 12): a project id
-- deleted by one tenant and re-created by another must show only the
-- current tenant's history. audit_events.tenant_id exists since 0001; this
-- fills it where a writer left it empty on a project event, and indexes the
-- (tenant, project) reads.
--
-- Backfill 1: from the project.create event of the same id that precedes the
-- event (the project the event belonged to, even if it was deleted since).
UPDATE audit_events SET tenant_id = (
    SELECT c.tenant_id FROM audit_events c
    WHERE c.project_id = audit_events.project_id AND c.action = 'project.create' AND c.tenant_id <> '' AND c.id < audit_events.id
    ORDER BY c.id DESC LIMIT 1)
WHERE tenant_id = '' AND project_id <> '' AND EXISTS (
    SELECT 1 FROM audit_events c
    WHERE c.project_id = audit_events.project_id AND c.action = 'project.create' AND c.tenant_id <> '' AND c.id < audit_events.id);
-- Backfill 2: from the projects row, only for ids that were never deleted
-- (otherwise the current row may be another tenant's re-creation). What
-- neither fills stays '' and is shown in no project's or tenant's audit view.
UPDATE audit_events SET tenant_id = (SELECT p.tenant_id FROM projects p WHERE p.id = audit_events.project_id)
WHERE tenant_id = '' AND project_id <> ''
    AND EXISTS (SELECT 1 FROM projects p WHERE p.id = audit_events.project_id)
    AND NOT EXISTS (SELECT 1 FROM audit_events d WHERE d.project_id = audit_events.project_id AND d.action = 'project.delete');
CREATE INDEX audit_events_tenant_project_idx ON audit_events(tenant_id, project_id, id);
