-- Argo CD health for the five obbackup.dev kinds (BackupStrategy, BackupTask, LogBackup, CleanupTask,
-- RecoveryTask). It reads only the standard status the operator writes: observedGeneration and the Ready,
-- Reconciling and Stalled conditions (kstatus), plus the phase for the cases Argo CD names differently.
local health = {}
local status = obj.status
if status == nil then
  health.status = "Progressing"
  health.message = "Waiting for the operator to report a status"
  return health
end
local generation = obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  health.status = "Progressing"
  health.message = "Waiting for the operator to observe the latest change"
  return health
end
local conditions = {}
if status.conditions ~= nil then
  for _, condition in ipairs(status.conditions) do
    conditions[condition.type] = condition
  end
end
local message = status.message or ""
local stalled = conditions["Stalled"]
if stalled ~= nil and stalled.status == "True" then
  health.status = "Degraded"
  health.message = stalled.message or message
  return health
end
if status.phase == "Failed" then
  health.status = "Degraded"
  health.message = message
  return health
end
if status.phase == "Paused" or status.phase == "Stopped" then
  health.status = "Suspended"
  health.message = message
  return health
end
local ready = conditions["Ready"]
if ready ~= nil and ready.status == "True" then
  health.status = "Healthy"
  health.message = message
  return health
end
health.status = "Progressing"
health.message = message
return health
