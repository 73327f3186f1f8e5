-- Stop every call the operator makes for this object until resumed (Synced=False, reason ReconcilePaused).
-- Argo CD self-heal removes an annotation that Git does not have: pause in Git, or turn self-heal off.
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["ccloud.operator.dev/paused"] = "true"
return obj
