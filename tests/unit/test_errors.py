"""Confluent error bodies of all three shapes are classified once, by status and code."""

import json

from ccloud_operator.confluent import errors


def test_standard_error_body() -> None:
    body = json.dumps({"errors": [{"status": "409", "code": "resource_already_exists", "detail": "exists"}]})
    error = errors.error_for_response(409, body, request_id="r-1", retry_after=None)
    assert isinstance(error, errors.Conflict)
    assert error.code == "resource_already_exists" and error.message == "exists" and "r-1" in str(error)


def test_connect_error_body() -> None:
    error = errors.error_for_response(
        400, json.dumps({"error": {"code": 400, "message": "bad config"}}), request_id=None, retry_after=None
    )
    assert isinstance(error, errors.BadRequest) and error.message == "bad config"


def test_error_code_body() -> None:
    error = errors.error_for_response(
        404, json.dumps({"error_code": 404, "message": "not found"}), request_id=None, retry_after=None
    )
    assert isinstance(error, errors.NotFound) and error.message == "not found"


def test_raw_text_falls_through() -> None:
    error = errors.error_for_response(502, "<html>bad gateway</html>", request_id=None, retry_after=None)
    assert isinstance(error, errors.ServerError) and error.retryable and "bad gateway" in error.message


def test_quota_exceeded_as_400_is_still_quota() -> None:
    body = json.dumps({"errors": [{"status": "400", "code": "quota_exceeded", "detail": "too many"}]})
    error = errors.error_for_response(400, body, request_id=None, retry_after=None)
    assert isinstance(error, errors.QuotaExceeded) and not error.retryable


def test_rate_limit_keeps_retry_after() -> None:
    error = errors.error_for_response(429, "{}", request_id=None, retry_after=7.0)
    assert isinstance(error, errors.RateLimited) and error.retryable and error.retry_after == 7.0


def test_kubernetes_errors_are_classified_not_raised() -> None:
    from ccloud_operator.kube import KubeApiError
    from ccloud_operator.reconcilers.outcome import classify

    unreachable = classify(KubeApiError(0, "GET /api: TimeoutError"), create_roles_hint="")
    assert (unreachable.reason, unreachable.retry_after, unreachable.warning) == ("KubernetesUnavailable", 10, False)
    forbidden = classify(KubeApiError(403, "secrets is forbidden"), create_roles_hint="")
    assert forbidden.reason == "KubernetesForbidden" and "secrets is forbidden" in forbidden.message
