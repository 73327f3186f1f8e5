"""AWS IAM policy evaluation for the decisions Confluent's side of a provider integration depends on.

moto's own enforcement is not faithful enough for these decisions (it matches a trust Principal only
against the caller's exact ARN, lets a missing `sts:ExternalId` through and checks DynamoDB only against
`Resource: "*"`), so the emulator reads the policy documents and evaluates them here.

Semantics implemented (from the IAM policy evaluation logic documentation):
- an explicit Deny in any matching statement wins; otherwise any matching Allow allows; otherwise the
  request is implicitly denied;
- `Action`/`NotAction` (case-insensitive) and `Resource`/`NotResource` (case-sensitive) with `*` and `?`;
  a statement without `Resource` (trust policies) matches any resource;
- `Principal`/`NotPrincipal` as `"*"` or `{"AWS": <str or list>}`; an account id or
  `arn:aws:iam::<account>:root` stands for every principal of that account;
- conditions: String(Not)Equals(IgnoreCase), String(Not)Like, ArnEquals/ArnLike/ArnNotEquals/ArnNotLike,
  Bool, Null, each optionally with `...IfExists`; several values of one key are ORed, several keys and
  several operators are ANDed. An operator this module does not know never matches.
"""

from __future__ import annotations

import enum
import json
import re
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

PolicyDocument = Mapping[str, Any]


class Decision(enum.Enum):
    """Outcome of evaluating a request against a set of policies."""

    ALLOW = "allow"
    EXPLICIT_DENY = "explicit_deny"
    IMPLICIT_DENY = "implicit_deny"

    @property
    def allowed(self) -> bool:
        """Whether the request may proceed."""
        return self is Decision.ALLOW


@dataclass(frozen=True)
class AccessRequest:
    """One API call to decide: who (for resource-based policies), what, on which resource, in what context."""

    action: str
    resource: str
    principal_arn: str | None = None
    context: Mapping[str, str] = field(default_factory=dict)


def parse_policy_document(document: str | Mapping[str, Any]) -> dict[str, Any]:
    """A policy document as a dict; IAM returns documents URL-encoded, boto3 usually decodes them."""
    if isinstance(document, Mapping):
        return dict(document)
    text = document.strip()
    if not text.startswith("{"):
        text = urllib.parse.unquote(text)
    parsed = json.loads(text)
    if not isinstance(parsed, dict):
        raise ValueError("a policy document must be a JSON object")
    return parsed


def evaluate(policies: Iterable[PolicyDocument], request: AccessRequest) -> Decision:
    """Decide `request` against all `policies` together (identity policies of a role, or a trust policy)."""
    allowed = False
    for policy in policies:
        for statement in _statements(policy):
            if not _statement_applies(statement, request):
                continue
            if str(statement.get("Effect", "")).lower() == "deny":
                return Decision.EXPLICIT_DENY
            if str(statement.get("Effect", "")).lower() == "allow":
                allowed = True
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


def wildcard_match(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    """IAM's `*` (any run of characters) and `?` (one character) matching."""
    return _compiled_wildcard(pattern, case_sensitive).fullmatch(value) is not None


@lru_cache(maxsize=1024)
def _compiled_wildcard(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    parts = []
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), 0 if case_sensitive else re.IGNORECASE | re.DOTALL)


def _statements(policy: PolicyDocument) -> list[Mapping[str, Any]]:
    raw = policy.get("Statement", [])
    if isinstance(raw, Mapping):
        return [raw]
    return [s for s in raw if isinstance(s, Mapping)]


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def _statement_applies(statement: Mapping[str, Any], request: AccessRequest) -> bool:
    if "Action" in statement:
        if not any(wildcard_match(a, request.action, case_sensitive=False) for a in _as_list(statement["Action"])):
            return False
    elif "NotAction" in statement:
        if any(wildcard_match(a, request.action, case_sensitive=False) for a in _as_list(statement["NotAction"])):
            return False
    else:
        return False

    if "Resource" in statement:
        if not any(wildcard_match(r, request.resource) for r in _as_list(statement["Resource"])):
            return False
    elif "NotResource" in statement and any(
        wildcard_match(r, request.resource) for r in _as_list(statement["NotResource"])
    ):
        return False

    if "Principal" in statement:
        if request.principal_arn is None or not _principal_matches(statement["Principal"], request.principal_arn):
            return False
    elif "NotPrincipal" in statement and (
        request.principal_arn is None or _principal_matches(statement["NotPrincipal"], request.principal_arn)
    ):
        return False

    return _conditions_hold(statement.get("Condition", {}), request.context)


def _principal_matches(principal: Any, principal_arn: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    caller_account = _arn_account(principal_arn)
    for candidate in _as_list(principal.get("AWS")):
        if candidate == "*" or candidate == principal_arn:
            return True
        # An account id or the account's root ARN delegates to every principal of that account.
        if re.fullmatch(r"\d{12}", candidate) and candidate == caller_account:
            return True
        root = re.fullmatch(r"arn:aws[a-z-]*:iam::(\d{12}):root", candidate)
        if root is not None and root.group(1) == caller_account:
            return True
    return False


def _arn_account(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 else ""


def _conditions_hold(conditions: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    lowered = {k.lower(): v for k, v in context.items()}
    for operator, clauses in conditions.items():
        if not isinstance(clauses, Mapping):
            return False
        for key, expected in clauses.items():
            if not _condition_holds(operator, lowered.get(key.lower()), _as_list(expected)):
                return False
    return True


def _condition_holds(operator: str, actual: str | None, expected: Sequence[str]) -> bool:
    if operator == "Null":
        # "Null": true means the key must be absent.
        want_absent = any(v.lower() == "true" for v in expected)
        return (actual is None) == want_absent
    if_exists = operator.endswith("IfExists")
    base = operator[: -len("IfExists")] if if_exists else operator
    if actual is None:
        return if_exists
    negated = "Not" in base
    if base in ("StringEquals", "StringNotEquals", "ArnEquals", "ArnNotEquals"):
        hit = actual in expected
    elif base in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        hit = actual.lower() in (v.lower() for v in expected)
    elif base in ("StringLike", "StringNotLike", "ArnLike", "ArnNotLike"):
        hit = any(wildcard_match(v, actual) for v in expected)
    elif base == "Bool":
        hit = actual.lower() in (v.lower() for v in expected)
        negated = False
    else:
        return False
    return not hit if negated else hit
