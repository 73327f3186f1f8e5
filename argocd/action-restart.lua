-- Restart the connector once: the operator restarts it when the restart annotation takes a value it has
-- not honoured yet (status.lastRestartRequest), so each use writes a new one, the time in UTC.
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["ccloud.operator.dev/restart"] = os.date("!%Y-%m-%dT%H:%M:%SZ")
return obj
