"""How unkind the emulator is: the real service's harsh behaviours, each a knob with its source.

The emulator is the operator's test oracle. Wherever the sources show or allow a harsher behaviour
than a naive stand-in would have, the `realistic` profile (the default) does the harsh thing, so a
test that passes here has met it. The `kind` profile keeps the emulator's first, forgiving behaviour
for unit-style tests of the emulator itself.

Sources, by tag: [CONTRACT] ../shared/confluent-api/CONTRACT.md (the API notes beside the official
OpenAPI files); [TF] confluentinc/terraform-provider-confluent; [pim1] pim-v1.openapi.yaml;
[conn] connect-v1.openapi.yaml; [AWS-IAM] the AWS IAM User Guide, "Changes that I make are not
always immediately visible" (IAM is eventually consistent; changes take time to propagate).

Durations are nominal seconds of the real service; `time_scale` multiplies every one of them, so the
test suite can run the realistic profile at a fiftieth of real time and the demo at a twentieth.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

Profile = Literal["realistic", "kind"]


@dataclass(frozen=True)
class Realism:
    """Every harsh behaviour of the realistic profile, as a value that can be changed at run time."""

    profile: Profile = "realistic"
    #: Multiplies every duration below (1.0 is real time).
    time_scale: float = 1.0
    #: Status for a resource that does not exist (a deleted integration, an unknown connector or
    #: cluster). The API may answer 403 in place of 404 for a deleted or foreign resource; Terraform
    #: treats a 403 on a read as "gone" unless the body names an invalid API key [CONTRACT 1,
    #: TF utils.go isNonKafkaRestApiResourceNotFound].
    missing_resource_status: int = 403
    #: Reads (lists, gets, status) see each connector and integration as it was this long ago: a new
    #: connector is missing from the list for seconds after its 201, an update shows late. Terraform
    #: sleeps 5 s after creating a connector before it reads it [TF resource_connector.go].
    read_lag_seconds: float = 5.0
    #: A deleted connector stays listed, in state DELETED (an enum value of the status schema [conn]),
    #: and stays among its integration's usages, for this long.
    delete_linger_seconds: float = 30.0
    #: PROVISIONING -> RUNNING or FAILED. Terraform waits 3 minutes before its first status poll and
    #: then polls every minute [TF resource_connector.go, utils_wait.go].
    provisioning_seconds: float = 120.0
    #: RUNNING -> PAUSED and PAUSED -> RUNNING: "asynchronous; the tasks will not transition at the
    #: same time" [conn pauseConnectv1Connector, resumeConnectv1Connector]; Terraform allows an hour.
    pause_resume_seconds: float = 20.0
    #: Only RUNNING -> PAUSED and PAUSED -> RUNNING are meaningful [CONTRACT 4]: a pause of a connector
    #: that is not RUNNING is accepted (202) and does nothing; "resume ... or do nothing if the
    #: connector is not paused" [conn]. The kind profile remembers a pause asked for while provisioning.
    pause_only_when_running: bool = True
    #: A changed trust or permission policy of a customer role takes effect this long after it was
    #: made; until then Confluent's AssumeRole and the role's calls see the old one [AWS-IAM; CONTRACT 2
    #: cites 1-7 minutes from Terraform's GCP notes].
    iam_propagation_seconds: float = 60.0
    #: The list's `provider` filter is an exact match [pim1: "Filter the results by exact match for
    #: provider"]; Terraform and the CLI register integrations as "aws", the spec's examples say "AWS".
    provider_filter_exact: bool = True
    #: Status of a create whose connector name is taken: undocumented, 400 or 409 [CONTRACT 4, 9].
    #: "seeded" draws one of the two per request from `seed`.
    duplicate_connector_status: Literal["seeded", "400", "409"] = "seeded"
    #: Seed of the draws above (None: a random seed per emulator start).
    seed: int | None = None

    def seconds(self, nominal: float) -> float:
        """A nominal duration of the real service in this emulator's time."""
        return nominal * self.time_scale

    @property
    def provisioning(self) -> float:
        return self.seconds(self.provisioning_seconds)

    @property
    def pause_resume(self) -> float:
        return self.seconds(self.pause_resume_seconds)

    @property
    def read_lag(self) -> float:
        return self.seconds(self.read_lag_seconds)

    @property
    def delete_linger(self) -> float:
        return self.seconds(self.delete_linger_seconds)

    @property
    def iam_propagation(self) -> float:
        return self.seconds(self.iam_propagation_seconds)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form, as `GET /_sandbox/realism` returns it."""
        return asdict(self)

    def updated(self, changes: dict[str, Any]) -> Realism:
        """A copy with some knobs changed; unknown knobs and bad values are an error."""
        known = {f.name: f for f in fields(self)}
        unknown = set(changes) - set(known)
        if unknown:
            raise ValueError(f"unknown realism settings: {sorted(unknown)}")
        values = dict(changes)
        for name, value in values.items():
            current = getattr(self, name)
            if isinstance(current, bool) or name in ("provider_filter_exact", "pause_only_when_running"):
                if not isinstance(value, bool):
                    raise ValueError(f"{name} must be true or false")
            elif name == "missing_resource_status":
                if value not in (403, 404):
                    raise ValueError("missing_resource_status must be 403 or 404")
            elif name == "duplicate_connector_status":
                if str(value) not in ("seeded", "400", "409"):
                    raise ValueError("duplicate_connector_status must be seeded, 400 or 409")
                values[name] = str(value)
            elif name == "profile":
                if value not in ("realistic", "kind"):
                    raise ValueError("profile must be realistic or kind")
            elif name == "seed":
                if value is not None and not isinstance(value, int):
                    raise ValueError("seed must be an integer or null")
            elif not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{name} must be a number >= 0")
        return replace(self, **values)


#: The forgiving stand-in: 404 for missing resources, reads see every write at once, deletes are
#: immediate, provisioning takes a second, IAM changes apply at once, the provider filter ignores
#: case, a duplicate connector is always 409, and a pause asked for while provisioning is remembered.
KIND = Realism(
    profile="kind",
    missing_resource_status=404,
    read_lag_seconds=0.0,
    delete_linger_seconds=0.0,
    provisioning_seconds=1.0,
    pause_resume_seconds=0.5,
    pause_only_when_running=False,
    iam_propagation_seconds=0.0,
    provider_filter_exact=False,
    duplicate_connector_status="409",
)
REALISTIC = Realism()


def profile(name: Profile, *, time_scale: float = 1.0, **overrides: Any) -> Realism:
    """A named profile with its time scale and any knob changed."""
    base = KIND if name == "kind" else REALISTIC
    return base.updated({"time_scale": time_scale, **overrides})


class Draws:
    """The seeded random choices the realistic profile makes (which status a duplicate create gets)."""

    def __init__(self, seed: int | None) -> None:
        self._rng = random.Random(seed)

    def duplicate_connector_status(self, realism: Realism) -> int:
        if realism.duplicate_connector_status == "seeded":
            return self._rng.choice((400, 409))
        return int(realism.duplicate_connector_status)
