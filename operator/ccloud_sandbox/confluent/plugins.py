"""The connector plugins the emulator knows, and the Connect config validation for them.

S3_SINK and DynamoDbCdcSource are modelled key by key (definitions as dumped from the validate endpoint in
kafka-docker-playground, see CONTRACT.md section 5). Other known classes are validated generically: only
`name`, `connector.class` and `kafka.auth.mode` are checked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ccloud_sandbox.confluent.state import MASK

KAFKA_API_KEY = "KAFKA_API_KEY"
SERVICE_ACCOUNT = "SERVICE_ACCOUNT"
ACCESS_KEYS = "Access Keys"
IAM_ROLES = "IAM Roles"

#: Keys whose values the API masks, besides any key containing "password" or "secret".
SENSITIVE_KEYS = frozenset(
    {"kafka.api.key", "kafka.api.secret", "aws.access.key.id", "aws.secret.access.key", "s3.sse.customer.key"}
)


def is_sensitive(key: str) -> bool:
    """Whether the Connect API masks the value of this config key."""
    lowered = key.lower()
    return key in SENSITIVE_KEYS or "password" in lowered or "secret" in lowered


def mask_config(config: Mapping[str, str]) -> dict[str, str]:
    """The config as the API shows it: sensitive values replaced by the mask."""
    return {k: (MASK if is_sensitive(k) else v) for k, v in config.items()}


@dataclass(frozen=True)
class ConfigKey:
    """One configuration key as the validate endpoint describes it."""

    name: str
    type: str = "STRING"
    required: bool = False
    default: str | None = None
    recommended_values: tuple[str, ...] = ()
    group: str = "General"
    documentation: str = ""
    importance: str = "MEDIUM"


@dataclass(frozen=True)
class PluginContext:
    """What validation may look up beyond the config itself."""

    environment_id: str
    integration_exists: Callable[[str], bool]
    service_account_exists: Callable[[str], bool]


@dataclass(frozen=True)
class Plugin:
    """A connector plugin (the value of `connector.class`)."""

    connector_class: str
    type: str
    version: str
    keys: tuple[ConfigKey, ...] = ()
    #: Whether this plugin is modelled key by key; otherwise only the generic keys are checked.
    detailed: bool = False
    groups: tuple[str, ...] = field(default=())


_GROUP_CONNECTOR = "How should we connect to your data?"
_GROUP_KAFKA = "Kafka Cluster credentials"
_GROUP_AWS = "AWS credentials"
_GROUP_TOPICS = "Which topics do you want to get data from?"
_GROUP_FORMATS = "Input messages"
_GROUP_OUTPUT = "Output messages"
_GROUP_S3 = "Organize my data by..."
_GROUP_DYNAMO = "DynamoDB details"
_GROUP_TASKS = "Number of tasks for this connector"

_COMMON_KEYS: tuple[ConfigKey, ...] = (
    ConfigKey("name", required=True, group=_GROUP_CONNECTOR, importance="HIGH"),
    ConfigKey("connector.class", required=True, group=_GROUP_CONNECTOR, importance="HIGH"),
    ConfigKey(
        "kafka.auth.mode",
        type="ENUM",
        default=KAFKA_API_KEY,
        recommended_values=(KAFKA_API_KEY, SERVICE_ACCOUNT),
        group=_GROUP_KAFKA,
        importance="HIGH",
    ),
    ConfigKey("kafka.api.key", type="PASSWORD", group=_GROUP_KAFKA, importance="HIGH"),
    ConfigKey("kafka.api.secret", type="PASSWORD", group=_GROUP_KAFKA, importance="HIGH"),
    ConfigKey("kafka.service.account.id", group=_GROUP_KAFKA, importance="HIGH"),
)

_AWS_AUTH_KEYS: tuple[ConfigKey, ...] = (
    ConfigKey(
        "authentication.method",
        type="ENUM",
        default=ACCESS_KEYS,
        recommended_values=(ACCESS_KEYS, IAM_ROLES),
        group=_GROUP_AWS,
        importance="HIGH",
    ),
    ConfigKey("aws.access.key.id", type="PASSWORD", group=_GROUP_AWS, importance="HIGH"),
    ConfigKey("aws.secret.access.key", type="PASSWORD", group=_GROUP_AWS, importance="HIGH"),
    ConfigKey("provider.integration.id", group=_GROUP_AWS, importance="HIGH"),
)

_TASKS_KEY = ConfigKey("tasks.max", type="INT", default="1", group=_GROUP_TASKS, importance="HIGH")

_S3_SINK_KEYS: tuple[ConfigKey, ...] = (
    *_COMMON_KEYS,
    *_AWS_AUTH_KEYS,
    ConfigKey("topics", type="LIST", required=True, group=_GROUP_TOPICS, importance="HIGH"),
    ConfigKey(
        "input.data.format",
        type="ENUM",
        required=True,
        recommended_values=("AVRO", "JSON_SR", "PROTOBUF", "JSON", "STRING", "BYTES"),
        group=_GROUP_FORMATS,
        importance="HIGH",
    ),
    ConfigKey(
        "output.data.format",
        type="ENUM",
        required=True,
        recommended_values=("AVRO", "JSON", "BYTES", "PARQUET"),
        group=_GROUP_OUTPUT,
        importance="HIGH",
    ),
    ConfigKey("s3.bucket.name", required=True, group=_GROUP_S3, importance="HIGH"),
    ConfigKey("s3.region", group=_GROUP_S3),
    ConfigKey("s3.sse.customer.key", type="PASSWORD", group=_GROUP_S3, importance="LOW"),
    ConfigKey("topics.dir", default="topics", group=_GROUP_S3, importance="LOW"),
    ConfigKey(
        "time.interval",
        type="ENUM",
        required=True,
        recommended_values=("HOURLY", "DAILY"),
        group=_GROUP_S3,
        importance="HIGH",
    ),
    ConfigKey("flush.size", type="INT", required=True, default="1000", group=_GROUP_S3, importance="HIGH"),
    _TASKS_KEY,
)

_DYNAMODB_CDC_FORMATS = ("AVRO", "JSON_SR", "PROTOBUF")

#: DynamoDbCdcSource as its config reference lists it (kafka-docker-playground
#: ccloud/fm-aws-dynamodb-cdc-source/config-DynamoDbCdcSource.txt, CONTRACT.md section 5): Schema Registry
#: formats only, a checkpoint table prefix, and tag discovery through the Resource Groups Tagging API.
_DYNAMODB_CDC_KEYS: tuple[ConfigKey, ...] = (
    *_COMMON_KEYS,
    *_AWS_AUTH_KEYS,
    ConfigKey("dynamodb.service.endpoint", required=True, group=_GROUP_DYNAMO, importance="HIGH"),
    ConfigKey(
        "dynamodb.table.discovery.mode",
        type="ENUM",
        default="INCLUDELIST",
        recommended_values=("INCLUDELIST", "TAG"),
        group=_GROUP_DYNAMO,
        importance="HIGH",
    ),
    ConfigKey("dynamodb.table.includelist", type="LIST", group=_GROUP_DYNAMO, importance="HIGH"),
    ConfigKey("dynamodb.table.tag.filters", group=_GROUP_DYNAMO, importance="MEDIUM"),
    ConfigKey("aws.resource.tagging.endpoint", group=_GROUP_DYNAMO, importance="MEDIUM"),
    ConfigKey(
        "dynamodb.table.sync.mode",
        type="ENUM",
        default="SNAPSHOT_CDC",
        recommended_values=("SNAPSHOT_CDC", "SNAPSHOT", "CDC"),
        group=_GROUP_DYNAMO,
        importance="HIGH",
    ),
    ConfigKey("dynamodb.cdc.checkpointing.table.prefix", default="connect-KCL-", group=_GROUP_DYNAMO),
    ConfigKey(
        "dynamodb.cdc.table.billing.mode",
        type="ENUM",
        default="PROVISIONED",
        recommended_values=("PROVISIONED", "PAY_PER_REQUEST"),
        group=_GROUP_DYNAMO,
        importance="LOW",
    ),
    ConfigKey(
        "output.data.format",
        type="ENUM",
        default="AVRO",
        recommended_values=_DYNAMODB_CDC_FORMATS,
        group=_GROUP_OUTPUT,
        importance="HIGH",
    ),
    ConfigKey(
        "output.data.key.format",
        type="ENUM",
        default="AVRO",
        recommended_values=_DYNAMODB_CDC_FORMATS,
        group=_GROUP_OUTPUT,
        importance="MEDIUM",
    ),
    _TASKS_KEY,
)


def _groups(keys: tuple[ConfigKey, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(k.group for k in keys))


PLUGINS: dict[str, Plugin] = {
    plugin.connector_class: plugin
    for plugin in (
        Plugin("S3_SINK", "sink", "2.6.11", _S3_SINK_KEYS, detailed=True, groups=_groups(_S3_SINK_KEYS)),
        Plugin(
            "DynamoDbCdcSource",
            "source",
            "1.3.2",
            _DYNAMODB_CDC_KEYS,
            detailed=True,
            groups=_groups(_DYNAMODB_CDC_KEYS),
        ),
        Plugin("DatagenSource", "source", "0.6.5", _COMMON_KEYS, groups=_groups(_COMMON_KEYS)),
        Plugin("DynamoDbSink", "sink", "1.4.5", _COMMON_KEYS, groups=_groups(_COMMON_KEYS)),
        Plugin("S3Source", "source", "2.5.15", _COMMON_KEYS, groups=_groups(_COMMON_KEYS)),
        Plugin("LambdaSink", "sink", "2.0.12", _COMMON_KEYS, groups=_groups(_COMMON_KEYS)),
        Plugin("PostgresCdcSourceV2", "source", "2.5.4", _COMMON_KEYS, groups=_groups(_COMMON_KEYS)),
        Plugin("HttpSinkV2", "sink", "1.0.6", _COMMON_KEYS, groups=_groups(_COMMON_KEYS)),
    )
}


@dataclass
class ValidationResult:
    """Per-key values and errors, in the order the validate endpoint lists them."""

    plugin: Plugin
    values: dict[str, str | None]
    errors: dict[str, list[str]]

    @property
    def error_count(self) -> int:
        """Total number of errors over all keys."""
        return sum(len(e) for e in self.errors.values())

    def messages(self) -> list[str]:
        """`key: error` lines, as Kafka Connect lists them in a 400 on create."""
        return [f'Invalid value for configuration "{key}": {e}' for key, errs in self.errors.items() for e in errs]

    def to_response(self) -> dict[str, Any]:
        """The body of `PUT .../connector-plugins/{plugin}/config/validate`."""
        configs = []
        for order, key in enumerate(self.plugin.keys, start=1):
            value = self.values.get(key.name)
            configs.append(
                {
                    "definition": {
                        "name": key.name,
                        "type": key.type,
                        "required": key.required,
                        "default_value": key.default or "",
                        "importance": key.importance,
                        "documentation": key.documentation,
                        "group": key.group,
                        "width": "NONE",
                        "display_name": key.name,
                        "dependents": [],
                        "order": order,
                        "alias": "",
                    },
                    "value": {
                        "name": key.name,
                        "value": (MASK if is_sensitive(key.name) and value else value) or "",
                        "recommended_values": list(key.recommended_values),
                        "errors": self.errors.get(key.name, []),
                        "visible": True,
                    },
                    "metadata": {},
                }
            )
        return {
            "name": self.plugin.connector_class,
            "error_count": self.error_count,
            "groups": list(self.plugin.groups),
            "configs": configs,
        }


def validate(plugin: Plugin, config: Mapping[str, str], context: PluginContext) -> ValidationResult:
    """Check a flat connector config against a plugin's definition."""
    errors: dict[str, list[str]] = {}

    def fail(key: str, message: str) -> None:
        errors.setdefault(key, []).append(message)

    values: dict[str, str | None] = {k.name: config.get(k.name, k.default) for k in plugin.keys}
    for name, raw in config.items():
        if not isinstance(raw, str):
            fail(name, f'Invalid value {raw!r} for configuration "{name}": all values must be strings')

    if config.get("connector.class", plugin.connector_class) != plugin.connector_class:
        fail("connector.class", f"connector.class must be {plugin.connector_class} for this plugin")
    if not config.get("name"):
        fail("name", 'Missing required configuration "name" which has no default value.')

    auth_mode = config.get("kafka.auth.mode", KAFKA_API_KEY)
    if auth_mode not in (KAFKA_API_KEY, SERVICE_ACCOUNT):
        fail(
            "kafka.auth.mode",
            f"Invalid value {auth_mode} for configuration kafka.auth.mode: must be one of "
            f"{KAFKA_API_KEY}, {SERVICE_ACCOUNT}",
        )

    if not plugin.detailed:
        return ValidationResult(plugin, values, errors)

    for key in plugin.keys:
        value = config.get(key.name)
        if key.required and not value and key.default is None:
            fail(key.name, f'Missing required configuration "{key.name}" which has no default value.')
            continue
        if value and key.type == "ENUM" and value not in key.recommended_values:
            allowed = ", ".join(key.recommended_values)
            fail(key.name, f"Invalid value {value} for configuration {key.name}: must be one of {allowed}")
        if value and key.type == "INT" and not _is_positive_int(value):
            fail(key.name, f"Invalid value {value} for configuration {key.name}: not a positive integer")

    if auth_mode == KAFKA_API_KEY:
        for needed in ("kafka.api.key", "kafka.api.secret"):
            if not config.get(needed):
                fail(needed, f'"{needed}" is required when kafka.auth.mode is {KAFKA_API_KEY}')
    elif auth_mode == SERVICE_ACCOUNT:
        account_id = config.get("kafka.service.account.id")
        if not account_id:
            fail(
                "kafka.service.account.id",
                f'"kafka.service.account.id" is required when kafka.auth.mode is {SERVICE_ACCOUNT}',
            )
        elif not context.service_account_exists(account_id):
            fail("kafka.service.account.id", f"Service account {account_id} does not exist")

    method = config.get("authentication.method", ACCESS_KEYS)
    if method == ACCESS_KEYS:
        for needed in ("aws.access.key.id", "aws.secret.access.key"):
            if not config.get(needed):
                fail(needed, f'"{needed}" is required when authentication.method is {ACCESS_KEYS}')
    elif method == IAM_ROLES:
        integration_id = config.get("provider.integration.id")
        if not integration_id:
            fail(
                "provider.integration.id",
                f'"provider.integration.id" is required when authentication.method is {IAM_ROLES}',
            )
        elif not context.integration_exists(integration_id):
            fail(
                "provider.integration.id",
                f"Provider integration {integration_id} was not found in environment {context.environment_id}",
            )

    if plugin.connector_class == "DynamoDbCdcSource":
        mode = config.get("dynamodb.table.discovery.mode", "INCLUDELIST")
        if mode == "INCLUDELIST" and not config.get("dynamodb.table.includelist"):
            fail(
                "dynamodb.table.includelist",
                '"dynamodb.table.includelist" is required when dynamodb.table.discovery.mode is INCLUDELIST',
            )
        if mode == "TAG" and not config.get("aws.resource.tagging.endpoint"):
            fail(
                "aws.resource.tagging.endpoint",
                '"aws.resource.tagging.endpoint" is required when dynamodb.table.discovery.mode is TAG',
            )
    return ValidationResult(plugin, values, errors)


def _is_positive_int(value: str) -> bool:
    return value.isdigit() and int(value) > 0
