"""Fault injection and the request log (the `/_sandbox/` admin API)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from ccloud_sandbox.confluent.admin import SandboxAdmin
from ccloud_sandbox.confluent.launcher import EmulatorInfo


@pytest.fixture(autouse=True)
def no_faults_after(admin: SandboxAdmin) -> Iterator[None]:
    yield
    admin.clear_faults()


def _list(api: httpx.Client, info: EmulatorInfo) -> httpx.Response:
    return api.get("/pim/v1/integrations", params={"environment": info.environment_id})


def test_random_429_carries_retry_after_and_rate_limit_headers(
    api: httpx.Client, info: EmulatorInfo, admin: SandboxAdmin
) -> None:
    admin.set_faults(error_rate_429=1.0, retry_after_seconds=3, seed=7)
    response = _list(api, info)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"
    for header in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert response.headers[header].isdigit(), header
    assert response.json()["errors"][0]["status"] == "429"
    assert "X-Request-Id" in response.headers


def test_error_rates_are_reproducible_with_a_seed(api: httpx.Client, info: EmulatorInfo, admin: SandboxAdmin) -> None:
    def run() -> list[int]:
        admin.set_faults(error_rate_500=0.3, error_rate_503=0.3, seed=42)
        return [_list(api, info).status_code for _ in range(20)]

    first, second = run(), run()
    assert first == second
    assert {500, 503, 200} <= set(first)


def test_token_bucket_rejects_a_burst(api: httpx.Client, info: EmulatorInfo, admin: SandboxAdmin) -> None:
    admin.set_faults(rate_limit_rps=1, rate_limit_burst=3)
    statuses = [_list(api, info) for _ in range(6)]
    assert [r.status_code for r in statuses[:3]] == [200, 200, 200]
    rejected = [r for r in statuses if r.status_code == 429]
    assert len(rejected) >= 2
    assert int(rejected[0].headers["Retry-After"]) >= 1
    assert rejected[0].headers["X-RateLimit-Limit"] == "3"
    assert statuses[0].headers["X-RateLimit-Limit"] == "3", "successful responses show the limit too"
    # The admin API is never rate limited.
    assert admin.state()["organization_id"] == info.organization_id


def test_latency_applies_to_matching_paths_only(api: httpx.Client, info: EmulatorInfo, admin: SandboxAdmin) -> None:
    admin.set_faults(rules=[{"path": "/pim/*", "latency_ms": 800}])
    started = time.monotonic()
    assert _list(api, info).status_code == 200
    slow = time.monotonic() - started
    started = time.monotonic()
    assert api.get(f"/org/v2/environments/{info.environment_id}").status_code == 200
    fast = time.monotonic() - started
    assert slow >= 0.8
    assert fast < 0.8


def test_regex_rule_with_method_filter(api: httpx.Client, info: EmulatorInfo, admin: SandboxAdmin) -> None:
    admin.set_faults(
        rules=[{"path": r"^/connect/.*/connectors$", "regex": True, "methods": ["GET"], "error_rate_503": 1}]
    )
    connectors = f"/connect/v1/environments/{info.environment_id}/clusters/{info.kafka_cluster_id}/connectors"
    response = api.get(connectors)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == 503, "Connect paths answer in Connect's error shape"
    assert _list(api, info).status_code == 200


def test_injected_failures_hit_the_next_matching_requests_only(
    api: httpx.Client, info: EmulatorInfo, admin: SandboxAdmin
) -> None:
    admin.inject(500, count=2, path="/pim/*")
    assert [_list(api, info).status_code for _ in range(3)] == [500, 500, 200]


def test_timeout_holds_the_request_until_the_client_gives_up(info: EmulatorInfo, admin: SandboxAdmin) -> None:
    admin.set_faults(timeout_rate=1.0, timeout_seconds=5)
    with httpx.Client(base_url=info.url, auth=info.basic_auth, timeout=0.5) as impatient:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            _list(impatient, info)
        assert time.monotonic() - started >= 0.5


def test_request_log_records_and_resets_without_credentials(
    api: httpx.Client, info: EmulatorInfo, admin: SandboxAdmin
) -> None:
    admin.clear_requests()
    assert admin.requests() == []
    _list(api, info)
    api.get("/pim/v1/integrations")
    records = admin.requests("/pim/")
    assert [(r["method"], r["path"], r["status"]) for r in records] == [
        ("GET", "/pim/v1/integrations", 200),
        ("GET", "/pim/v1/integrations", 400),
    ]
    assert records[0]["query"] == {"environment": info.environment_id}
    assert records[0]["operation_id"] == "listPimV1Integrations"
    assert records[0]["duration_ms"] >= 0 and records[0]["time"]
    assert info.api_secret not in str(records) and "Basic" not in str(records)
    admin.clear_requests()
    assert admin.requests() == []


def test_a_refused_expanded_list_is_logged_as_the_operation_that_declares_expand(
    api: httpx.Client, info: EmulatorInfo, admin: SandboxAdmin
) -> None:
    # The conformance check judges each logged request by its operation's declared parameters.
    admin.clear_requests()
    for environment in (info.environment_id, "env-doesnotexist1"):
        api.get(
            f"/connect/v1/environments/{environment}/clusters/{info.kafka_cluster_id}/connectors",
            params={"expand": "id,info,status"},
        )
    records = admin.requests("/connect/")
    assert [r["status"] >= 400 for r in records] == [False, True]
    assert {r["operation_id"] for r in records} == {"listConnectv1ConnectorsWithExpansions"}


def test_unknown_fault_setting_is_refused(admin: SandboxAdmin) -> None:
    with pytest.raises(httpx.HTTPStatusError) as refused:
        admin.set_faults(error_rate_418=0.5)
    assert refused.value.response.status_code == 400


def test_a_delayed_response_comes_after_the_change_is_made(info: EmulatorInfo, admin: SandboxAdmin) -> None:
    admin.set_faults(rules=[{"path": "/pim/v1/integrations", "methods": ["POST"], "response_delay_ms": 2000}])
    role_arn = "arn:aws:iam::123456789012:role/lost-response"
    body = {
        "display_name": "lost-response",
        "provider": "AWS",
        "config": {"kind": "AwsIntegrationConfig", "customer_iam_role_arn": role_arn},
        "environment": {"id": info.environment_id},
    }
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{info.url}/pim/v1/integrations", json=body, auth=info.basic_auth, timeout=0.5)
    registered = [i for i in admin.state()["integrations"].values() if i["customer_iam_role_arn"] == role_arn]
    assert len(registered) == 1
    admin.delete_integration(registered[0]["id"])
