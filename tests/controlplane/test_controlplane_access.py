"""Authentication and RBAC are real: minted client certificates and ServiceAccount tokens."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from ccloud_sandbox.controlplane.cluster import ControlPlane

from harness_support import api_client, wait_until


@pytest.fixture
def local_control_plane(control_plane: ControlPlane | None) -> ControlPlane:
    if control_plane is None:
        pytest.skip("minting client certificates needs the local control plane's CA")
    return control_plane


@pytest.fixture
def alice(local_control_plane: ControlPlane) -> Iterator[client.ApiClient]:
    """An API client authenticated as user `alice` in group `developers` (not system:masters)."""
    with api_client(local_control_plane.mint_kubeconfig("alice", ["developers"])) as api:
        yield api


def _whoami(api: client.ApiClient) -> tuple[str, list[str]]:
    """The user name and groups the API server authenticated `api` as."""
    review = client.AuthenticationV1Api(api).create_self_subject_review(client.V1SelfSubjectReview())
    assert review.status is not None and review.status.user_info is not None
    return str(review.status.user_info.username), list(review.status.user_info.groups or [])


def _list_secrets_status(api: client.ApiClient, namespace: str) -> int:
    try:
        client.CoreV1Api(api).list_namespaced_secret(namespace)
    except ApiException as error:
        return int(error.status)
    return 200


def test_minted_identity_is_forbidden_until_a_role_binding_grants_it(
    k8s_api: client.ApiClient, alice: client.ApiClient, namespace: str
) -> None:
    assert _list_secrets_status(alice, namespace) == 403

    rbac = client.RbacAuthorizationV1Api(k8s_api)
    rbac.create_namespaced_role(
        namespace,
        client.V1Role(
            metadata=client.V1ObjectMeta(name="secret-reader"),
            rules=[client.V1PolicyRule(api_groups=[""], resources=["secrets"], verbs=["get", "list"])],
        ),
    )
    rbac.create_namespaced_role_binding(
        namespace,
        client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name="alice-reads-secrets"),
            role_ref=client.V1RoleRef(api_group="rbac.authorization.k8s.io", kind="Role", name="secret-reader"),
            subjects=[client.RbacV1Subject(kind="User", name="alice", api_group="rbac.authorization.k8s.io")],
        ),
    )

    # The authorizer reads RBAC objects from an informer: a short delay is normal.
    wait_until(lambda: _list_secrets_status(alice, namespace) == 200, "alice to be allowed to list secrets")
    with pytest.raises(ApiException) as cluster_wide:
        client.CoreV1Api(alice).list_secret_for_all_namespaces()
    assert cluster_wide.value.status == 403


def test_minted_identity_is_who_the_server_says(alice: client.ApiClient) -> None:
    user, groups = _whoami(alice)

    assert user == "alice"
    assert "developers" in groups
    assert "system:masters" not in groups


def test_token_request_mints_a_service_account_token_the_server_accepts(
    k8s_api: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(k8s_api)
    core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="robot"))
    )

    token_request = core.create_namespaced_service_account_token(
        "robot",
        namespace,
        client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=600)),
    )

    assert token_request.status is not None
    # The admin's server address and CA, but the token instead of the client certificate.
    configuration = client.Configuration(host=k8s_api.configuration.host)
    configuration.ssl_ca_cert = k8s_api.configuration.ssl_ca_cert
    configuration.api_key = {"authorization": f"Bearer {token_request.status.token}"}
    with client.ApiClient(configuration) as robot:
        user, _ = _whoami(robot)
    assert user == f"system:serviceaccount:{namespace}:robot"
