-- Resume reconciliation: the operator converges the object at once. "false" rather than removing the
-- annotation: the operator resumes on any value but "true", and an object left with no annotation at
-- all would reach Argo CD as an empty Lua table, which it turns into a JSON array.
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["ccloud.operator.dev/paused"] = "false"
return obj
