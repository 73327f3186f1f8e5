-- Argo CD resource actions of a ManagedConnector: which ones the UI offers for this object.
-- Restart asks the operator to restart the connector once (the ccloud.operator.dev/restart annotation);
-- pause and resume stop and restart the operator's reconciliation (ccloud.operator.dev/paused), not the
-- connector itself: to pause the connector, set spec.state: Paused in Git.
local annotations = (obj.metadata ~= nil and obj.metadata.annotations) or {}
local paused = annotations["ccloud.operator.dev/paused"] == "true"
local deleting = obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil
local created = obj.status ~= nil and obj.status.connectorName ~= nil
local actions = {}
-- A paused object is not reconciled, so a restart request would wait unseen until resume.
actions["restart"] = {["disabled"] = paused or deleting or not created}
actions["pause-reconciliation"] = {["disabled"] = paused}
actions["resume-reconciliation"] = {["disabled"] = not paused}
return actions
