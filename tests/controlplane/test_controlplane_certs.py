"""The control plane's certificates, checked without starting anything."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ccloud_sandbox.controlplane import certs


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_serving_certificate_names_loopback_and_is_signed_by_the_ca(tmp_path: Path) -> None:
    pki = certs.write_pki(tmp_path)
    ca, serving = _load(pki.ca_cert), _load(pki.serving_cert)

    serving.verify_directly_issued_by(ca)
    names = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert ipaddress.ip_address("127.0.0.1") in names.get_values_for_type(x509.IPAddress)
    usage = serving.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in usage


def test_admin_certificate_is_in_system_masters(tmp_path: Path) -> None:
    pki = certs.write_pki(tmp_path)
    admin = _load(pki.admin_cert)

    admin.verify_directly_issued_by(_load(pki.ca_cert))
    assert admin.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "admin"
    assert [a.value for a in admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == ["system:masters"]


def test_minted_client_certificate_carries_user_and_groups(tmp_path: Path) -> None:
    pki = certs.write_pki(tmp_path)
    issued = certs.mint_client_certificate(tmp_path, "alice", ["developers", "auditors"])
    minted = x509.load_pem_x509_certificate(issued.cert_pem)

    minted.verify_directly_issued_by(_load(pki.ca_cert))
    assert minted.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "alice"
    groups = [a.value for a in minted.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    assert groups == ["developers", "auditors"]
    usage = minted.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CLIENT_AUTH in usage


def test_private_keys_are_readable_by_the_owner_only(tmp_path: Path) -> None:
    pki = certs.write_pki(tmp_path)

    for key in (pki.ca_key, pki.serving_key, pki.admin_key, pki.service_account_key):
        assert key.stat().st_mode & 0o077 == 0, key
