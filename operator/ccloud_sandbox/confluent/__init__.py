"""The Confluent Cloud emulator: the parts of Confluent Cloud the operator uses, over real HTTP.

Run it with `ccloud-sandbox confluent serve` (or `python -m ccloud_sandbox.confluent serve`); from Python,
use `launcher.EmulatorProcess` and, for the `/_sandbox/` admin API, `admin.SandboxAdmin`.
Built against the official Confluent Cloud OpenAPI files (pim v1, connect v1, iam v2) and the API contract
notes that cite them (CONTRACT.md, kept beside this repository as `../shared/confluent-api/`).

Modules, one concern each: `server` (application, middleware, serve loop), `pim_api`, `connect_api`,
`iam_api` (role bindings, environment and cluster reads), `admin_api` (`/_sandbox/`, documented there),
`auth` (API keys and role-binding authorization), `plugins` (connector plugins and config validation),
`runtime` (connector lifecycle), `aws_access` (what AWS decides and the data movement), `iam_policy`
(IAM policy evaluation), `faults`, `observe` (request and response logs), `pagination`, `errors`, `state`
(the data and its state file), `context` (shared request plumbing), `cli`, `launcher`, `admin`.

Knowing differences from the real service, and why:
- Deleting a provider integration that connectors use is refused with **409** `resource_in_use` in the
  standard error body; the real status is undocumented (CONTRACT.md section 9).
- Creating a connector whose name exists answers **409** `{"error":{"code":409,...}}` (Kafka Connect's
  status); the real code is undocumented (400 or 409).
- Connect answers **403** for authorization failures and **404** for an unknown environment/cluster on
  every operation, although the SDK spec lists 403 only for offsets and no 404 for create.
- A deleted connector disappears from lists and from integration `usages` at once; the real service may
  take a moment.
- `PUT .../config` on a missing connector creates it and answers 200 (the spec lists only 200).
- Sending the mask `****************` back as `kafka.api.key`/`kafka.api.secret` stores it literally and the
  connector then FAILS with an authentication trace, so clients that write masks back notice; the real
  behaviour is undocumented.
- Pause and resume take effect after half of `--provisioning-seconds`; a resumed connector re-checks AWS
  without passing through PROVISIONING. A restart of a PAUSED connector is a no-op; restart, resume of a
  FAILED connector and every config update re-provision (PROVISIONING again).
- The customer role is never really assumed: the emulator reads the role's policy documents with its own
  AWS keys and evaluates them itself (moto's enforcement matches trust principals only by exact caller ARN
  and ignores a missing ExternalId). A trust policy that does not *require* the integration's
  `sts:ExternalId` is treated as a denial (Confluent's confused-deputy requirement), although plain AWS
  would allow such an AssumeRole. Data is moved with the emulator's own keys, after the decision.
- Data movement is simulated: an S3 sink writes two small JSON-lines objects per topic
  (`<topics.dir>/<topic>/partition=0/<topic>+0+<offset>.json`, offsets continue across restarts) each time
  it starts RUNNING, in JSON whatever `output.data.format` says, and writes nothing afterwards; the DynamoDB
  CDC source scans (counts) its include-listed tables once per start and reports the count in the task
  `msg`; it never reads streams. Other classes move no data.
- `dynamodb.service.endpoint` is only used for its region; requests go to `--aws-endpoint`.
- Without `--aws-endpoint`, IAM-role connectors go RUNNING without AWS checks (the task `msg` says so).
- Only one organization, environment and Kafka cluster exist; the organization quota is the only quota
  (`provider_integrations_per_env` is not enforced). Over-quota is always 402, never the known-issue 400.
- Validation models S3_SINK and DynamoDbCdcSource key by key; other known classes only check `name`,
  `connector.class` and `kafka.auth.mode`; the error texts are close to, not copies of, Confluent's.
- Role bindings: `crn_pattern` on list matches bindings whose pattern starts with the query; role names are
  checked against a fixed list; create validation errors are 400 (the spec lists no 422 there).
- `GET /org/v2/environments/{id}` and `GET /cmk/v2/clusters/{id}` return plausible shapes; no spec for them
  was available, so the conformance test does not check them. `POST .../restart` (live API, Preview) is
  not in the SDK spec either.
- The state file holds every secret in clear text (it is a local sandbox file); `GET /_sandbox/state`
  masks them.
"""
