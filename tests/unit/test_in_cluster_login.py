"""In a pod, the operator reaches the API server at the address the kubelet sets, not through cluster DNS."""

from __future__ import annotations

import kopf

from ccloud_operator.kube import service_address

KOPF_IN_CLUSTER = kopf.ConnectionInfo(server="https://kubernetes.default.svc", token="t", ca_path="/ca.crt")


def test_the_kubelets_service_address_replaces_the_dns_name_and_keeps_the_credentials() -> None:
    connection = service_address(
        KOPF_IN_CLUSTER, {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    )
    assert connection.server == "https://10.0.0.1:443"
    assert (connection.token, connection.ca_path) == ("t", "/ca.crt")


def test_an_ipv6_service_address_is_bracketed() -> None:
    connection = service_address(
        KOPF_IN_CLUSTER, {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}
    )
    assert connection.server == "https://[fd00::1]:443"


def test_without_the_kubelets_variables_kopfs_address_stays() -> None:
    assert service_address(KOPF_IN_CLUSTER, {}).server == "https://kubernetes.default.svc"
