"""Throw-away certificates for the local control plane.

One CA signs everything: the API server's serving certificate, the admin
client certificate (in `system:masters`, so RBAC does not apply to it), the
controller manager's client certificate and any client certificate a test
mints for a non-admin identity. The API server authenticates a client
certificate as user = CN, groups = O (Kubernetes docs, "Authenticating: X509
client certificates"), so a minted certificate is a real RBAC subject.

The service-account key pair is separate from the CA: the API server signs
ServiceAccount tokens (TokenRequest API) with the private key and verifies them
with the public key; the controller manager uses the private key for legacy
token Secrets.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: Names the API server answers to: loopback for clients on this machine, and
#: the in-cluster names of the `kubernetes` Service (first IP of 10.0.0.0/24).
SERVING_DNS_NAMES = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc")
SERVING_IP_ADDRESSES = ("127.0.0.1", "10.0.0.1")

#: Long enough for any test session or sandbox; a fresh `up()` makes new ones.
VALIDITY = datetime.timedelta(days=30)
#: Backdated so a clock a little behind does not reject a certificate made just now.
CLOCK_SKEW = datetime.timedelta(hours=1)

ADMIN_USER = "admin"
MASTERS_GROUP = "system:masters"
CONTROLLER_MANAGER_USER = "system:kube-controller-manager"


@dataclass(frozen=True)
class IssuedCertificate:
    """A certificate and its private key, both PEM-encoded."""

    cert_pem: bytes
    key_pem: bytes

    def write(self, cert_path: Path, key_path: Path) -> None:
        """Write the certificate and the key (mode 0600) to the given paths."""
        cert_path.write_bytes(self.cert_pem)
        _write_private(key_path, self.key_pem)


@dataclass(frozen=True)
class CertificateAuthority:
    """A self-signed CA that issues serving and client certificates."""

    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey

    @classmethod
    def create(cls, common_name: str = "ccloud-sandbox-ca") -> CertificateAuthority:
        """Make a new CA with a fresh key."""
        key = _new_key()
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = _now()
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(certificate, key)

    @classmethod
    def load(cls, cert_path: Path, key_path: Path) -> CertificateAuthority:
        """Load a CA written earlier by `write`."""
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{key_path} does not hold an EC private key")
        return cls(certificate, key)

    @property
    def cert_pem(self) -> bytes:
        """The CA certificate, PEM-encoded."""
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def write(self, cert_path: Path, key_path: Path) -> None:
        """Write the CA certificate and its key (mode 0600)."""
        cert_path.write_bytes(self.cert_pem)
        _write_private(key_path, _key_pem(self.private_key))

    def issue_serving(
        self,
        common_name: str = "kube-apiserver",
        dns_names: Sequence[str] = SERVING_DNS_NAMES,
        ip_addresses: Sequence[str] = SERVING_IP_ADDRESSES,
    ) -> IssuedCertificate:
        """A TLS server certificate with the given subject alternative names."""
        alternative_names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
        alternative_names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
        return self._issue(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]),
            ExtendedKeyUsageOID.SERVER_AUTH,
            x509.SubjectAlternativeName(alternative_names),
        )

    def issue_client(self, user: str, groups: Sequence[str] = ()) -> IssuedCertificate:
        """A TLS client certificate the API server reads as `user` in `groups`."""
        attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, group) for group in groups]
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, user))
        return self._issue(x509.Name(attributes), ExtendedKeyUsageOID.CLIENT_AUTH, None)

    def _issue(
        self,
        subject: x509.Name,
        usage: x509.ObjectIdentifier,
        alternative_names: x509.SubjectAlternativeName | None,
    ) -> IssuedCertificate:
        key = _new_key()
        now = _now()
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.private_key.public_key()),
                critical=False,
            )
        )
        if alternative_names is not None:
            builder = builder.add_extension(alternative_names, critical=False)
        certificate = builder.sign(self.private_key, hashes.SHA256())
        return IssuedCertificate(certificate.public_bytes(serialization.Encoding.PEM), _key_pem(key))


@dataclass(frozen=True)
class ServiceAccountKeyPair:
    """The key pair the API server signs and verifies ServiceAccount tokens with."""

    private_key_pem: bytes
    public_key_pem: bytes

    @classmethod
    def create(cls) -> ServiceAccountKeyPair:
        """A fresh RSA key pair; RS256 is what every token consumer accepts."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return cls(_key_pem(key), public_pem)

    def write(self, private_path: Path, public_path: Path) -> None:
        """Write the private key (mode 0600) and the public key."""
        _write_private(private_path, self.private_key_pem)
        public_path.write_bytes(self.public_key_pem)


@dataclass(frozen=True)
class PkiPaths:
    """Where `write_pki` put each file."""

    ca_cert: Path
    ca_key: Path
    serving_cert: Path
    serving_key: Path
    admin_cert: Path
    admin_key: Path
    controller_manager_cert: Path
    controller_manager_key: Path
    service_account_key: Path
    service_account_public_key: Path

    @classmethod
    def under(cls, directory: Path) -> PkiPaths:
        """The file layout inside `directory`."""
        return cls(
            ca_cert=directory / "ca.crt",
            ca_key=directory / "ca.key",
            serving_cert=directory / "apiserver.crt",
            serving_key=directory / "apiserver.key",
            admin_cert=directory / "admin.crt",
            admin_key=directory / "admin.key",
            controller_manager_cert=directory / "controller-manager.crt",
            controller_manager_key=directory / "controller-manager.key",
            service_account_key=directory / "service-account.key",
            service_account_public_key=directory / "service-account.pub",
        )


def write_pki(directory: Path, extra_ip_addresses: Sequence[str] = ()) -> PkiPaths:
    """Generate a fresh CA and every certificate and key the control plane needs.

    Anything already in `directory` is overwritten: each call is a new trust root. `extra_ip_addresses`
    join the serving certificate's names (the address pods reach the API server at, with a node).
    """
    directory.mkdir(parents=True, exist_ok=True)
    paths = PkiPaths.under(directory)
    authority = CertificateAuthority.create()
    authority.write(paths.ca_cert, paths.ca_key)
    authority.issue_serving(ip_addresses=(*SERVING_IP_ADDRESSES, *extra_ip_addresses)).write(
        paths.serving_cert, paths.serving_key
    )
    authority.issue_client(ADMIN_USER, [MASTERS_GROUP]).write(paths.admin_cert, paths.admin_key)
    # The controller manager runs with its own credentials for every controller
    # (no --use-service-account-credentials); the namespace and garbage
    # collector controllers delete arbitrary resources, custom ones included,
    # which the bootstrap `system:kube-controller-manager` role does not cover.
    authority.issue_client(CONTROLLER_MANAGER_USER, [MASTERS_GROUP]).write(
        paths.controller_manager_cert, paths.controller_manager_key
    )
    ServiceAccountKeyPair.create().write(paths.service_account_key, paths.service_account_public_key)
    return paths


def mint_client_certificate(pki_dir: Path, user: str, groups: Sequence[str] = ()) -> IssuedCertificate:
    """A client certificate for `user` in `groups`, signed by the CA stored in `pki_dir`."""
    paths = PkiPaths.under(pki_dir)
    return CertificateAuthority.load(paths.ca_cert, paths.ca_key).issue_client(user, groups)


def _new_key() -> ec.EllipticCurvePrivateKey:
    # P-256: milliseconds to generate (RSA takes far longer) and accepted by Go's
    # TLS stack, kubectl, urllib3 and httpx alike.
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_private(path: Path, data: bytes) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_bytes(data)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)
