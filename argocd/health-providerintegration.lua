-- Argo CD health of a ProviderIntegration (ccloud.operator.dev/v1alpha1), read from its Ready condition.
-- Reasons are the operator's (operator/ccloud_operator/reconcilers/); unknown False reasons count as Degraded
-- so a new failure is never shown as healthy.
local PROGRESSING = {
  Creating = true, TrustPolicyPending = true, Deleting = true, ConfluentUnavailable = true,
}
local hs = {}
if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Deleting: the operator is removing the integration and its IAM role"
  return hs
end
if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report status"
  return hs
end
local generation = obj.metadata and obj.metadata.generation
if generation ~= nil and (obj.status.observedGeneration == nil or obj.status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end
local ready = nil
for _, condition in ipairs(obj.status.conditions) do
  if condition.type == "Ready" then
    ready = condition
  end
end
if ready == nil or ready.status == "Unknown" then
  hs.status = "Progressing"
  hs.message = "Waiting for the Ready condition"
  return hs
end
local detail = (ready.reason or "") .. ": " .. (ready.message or "")
if ready.status == "True" then
  hs.status = "Healthy"
elseif PROGRESSING[ready.reason] then
  hs.status = "Progressing"
else
  hs.status = "Degraded"
end
hs.message = detail
return hs
