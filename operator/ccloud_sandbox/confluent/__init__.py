"""The Confluent Cloud emulator: the parts of Confluent Cloud the operator uses, over real HTTP.

Run it with `ccloud-sandbox confluent serve` (or `python -m ccloud_sandbox.confluent serve`); from Python,
use `launcher.EmulatorProcess` and, for the `/_sandbox/` admin API, `admin.SandboxAdmin`.
Built against the official Confluent Cloud OpenAPI files (pim v1, connect v1, iam v2) and the API contract
notes that cite them (CONTRACT.md, kept beside this repository as `../shared/confluent-api/`).

Modules, one concern each: `server` (application, middleware, serve loop), `pim_api`, `connect_api`,
`iam_api` (role bindings, environment and cluster reads), `admin_api` (`/_sandbox/`, documented there),
`auth` (API keys and role-binding authorization), `plugins` (connector plugins and config validation),
`runtime` (connector lifecycle), `aws_access` (what AWS decides, IAM propagation and the data movement),
`iam_policy` (IAM policy evaluation), `realism` (the profiles and their knobs), `replica` (reads that
trail writes), `faults`, `observe` (request and response logs), `pagination`, `errors`, `state` (the data
and its state file), `context` (shared request plumbing), `cli`, `launcher`, `admin`.

Two profiles (`realism`): **realistic**, the default, is as harsh as the sources show or allow the real
service to be, each behaviour a knob with its source named in `realism.Realism`: 403 for a missing
resource, reads that trail writes (a new connector missing from the list for seconds), deleted connectors
that linger in state DELETED, minutes of provisioning, asynchronous pause/resume that only a RUNNING or
PAUSED connector honours, IAM changes that take time to propagate, an exact `provider` filter, and a
seeded choice between 400 and 409 for a taken connector name. A time scale shrinks every duration for
tests and the demo. **kind** is the first, forgiving stand-in, kept for unit-style tests of the emulator.

Knowing differences from the real service, and why:
- Deleting a provider integration that connectors use (lingering deleted ones included) is refused with
  **400** `resource_in_use` in the standard error body: the status the DELETE documents; the real refusal is
  undocumented (CONTRACT.md section 9).
- Creating a connector whose name exists answers **400 or 409** `{"error":{"code":...}}`, a seeded draw per
  request (realistic) or always 409 (kind); the real code is undocumented.
- Connect answers **403** for authorization failures, and the realistic profile 403 for an unknown
  environment, cluster or connector too (kind: 404), although the SDK spec lists 403 only for offsets.
- `PUT .../config` on a missing connector creates it and answers 200 (the spec lists only 200).
- Sending the mask `****************` back as `kafka.api.key`/`kafka.api.secret` stores it literally and the
  connector then FAILS with an authentication trace, so clients that write masks back notice; the real
  behaviour is undocumented.
- A resumed connector re-checks AWS without passing through PROVISIONING. A restart of a PAUSED connector
  is a no-op; restart and every config update re-provision (PROVISIONING again).
- The customer role is never really assumed: the emulator reads the role's policy documents with its own
  AWS keys and evaluates them itself (moto's enforcement matches trust principals only by exact caller ARN
  and ignores a missing ExternalId). A trust policy that does not *require* the integration's
  `sts:ExternalId` is treated as a denial (Confluent's confused-deputy requirement), although plain AWS
  would allow such an AssumeRole. Data is moved with the emulator's own keys, after the decision.
- IAM propagation is learnt, not seen: the emulator reads a role when a connector starts, so a change
  counts as made when it first sees it (on its first look at a role, when the role or the integration was
  created, whichever is later). That is at most as kind as AWS, never kinder.
- Data movement is simulated: an S3 sink writes two small JSON-lines objects per topic
  (`<topics.dir>/<topic>/partition=0/<topic>+0+<offset>.json`, offsets continue across restarts) each time
  it starts RUNNING, in JSON whatever `output.data.format` says, and writes nothing afterwards; the DynamoDB
  CDC source checks the table, stream, ListStreams and checkpoint-table permissions its sync mode needs
  (TAG discovery: tag:GetResources, tables found by their tags), fails on a table without a stream in a CDC
  mode, counts the items of a snapshot and reports the count in the task `msg`; it creates no checkpoint
  table and never reads streams. Other classes move no data.
- `dynamodb.service.endpoint` is only used for its region; requests go to `--aws-endpoint`.
- Without `--aws-endpoint`, IAM-role connectors go RUNNING without AWS checks (the task `msg` says so).
- Only one organization and environment exist (clusters can be deleted through `/_sandbox/`); the
  organization quota is the only quota (`provider_integrations_per_env` is not enforced). Over-quota is
  always 402, never the known-issue 400.
- Validation models S3_SINK and DynamoDbCdcSource key by key; other known classes only check `name`,
  `connector.class` and `kafka.auth.mode`; the error texts are close to, not copies of, Confluent's.
- Role bindings: `crn_pattern` on list matches bindings whose pattern starts with the query; role names are
  checked against a fixed list; create validation errors are 400 (the spec lists no 422 there).
- `GET /org/v2/environments/{id}` and `GET /cmk/v2/clusters/{id}` return plausible shapes; no spec for them
  was available, so the conformance test does not check them. `POST .../restart` (live API, Preview) is
  not in the SDK spec either.
- The state file holds every secret in clear text (it is a local sandbox file); `GET /_sandbox/state`
  masks them, and so does the response log for request bodies.
"""
