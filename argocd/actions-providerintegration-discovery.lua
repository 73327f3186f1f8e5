-- Argo CD resource actions of a ProviderIntegration: pause and resume the operator's reconciliation
-- (the ccloud.operator.dev/paused annotation).
local annotations = (obj.metadata ~= nil and obj.metadata.annotations) or {}
local paused = annotations["ccloud.operator.dev/paused"] == "true"
local actions = {}
actions["pause-reconciliation"] = {["disabled"] = paused}
actions["resume-reconciliation"] = {["disabled"] = not paused}
return actions
