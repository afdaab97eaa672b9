"""A certificate authority for one cluster, and the identities it issues (`gfs certs`).

Every process of a secure cluster proves who it is with a certificate signed by the cluster's
CA: its name (the subject's common name: a user's name, or a server's) and its role (the
subject's organizational unit: master, shadow, chunkserver, admin or user). A server's
certificate also names the hosts it may claim (subject alternative names): a chunkserver may
register only an address on one of them, and clients check that the server they reach holds
a certificate for the host they dialled.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from common import errors

ROLES = ("master", "shadow", "chunkserver", "admin", "user")
SERVER_ROLES = ("master", "shadow", "chunkserver")
CA_CERT, CA_KEY = "ca.pem", "ca.key"
ORGANIZATION = "pygfs"


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes, private: bool) -> None:
    """Written whole or not at all; a key readable by its owner only."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _name(common_name: str, role: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


# Certificates are valid from a day before they are made: a node whose clock runs up to a day
# behind still takes them (with five minutes, one an hour behind refused every peer's).
BACKDATED = datetime.timedelta(days=1)


def init_ca(directory: Path, days: int = 3650) -> Path:
    """Makes the CA in `directory` (ca.pem, ca.key); refuses to replace one."""
    directory.mkdir(parents=True, exist_ok=True)
    if (directory / CA_KEY).exists():
        raise errors.AlreadyExists(f"a CA exists in {directory} already")
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    name = _name(f"{ORGANIZATION} CA", "ca")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATED)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
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
        .sign(key, hashes.SHA256())
    )
    _write(directory / CA_KEY, _key_pem(key), private=True)
    _write(directory / CA_CERT, cert.public_bytes(serialization.Encoding.PEM), private=False)
    return directory / CA_CERT


def _alternative_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def issue(
    directory: Path, name: str, role: str, hosts: list[str] | tuple[str, ...] = (), days: int = 825
) -> Issued:
    """Issues NAME.pem and NAME.key in `directory`, signed by its CA. A server role needs the
    hosts it serves on (its certificate is checked against the address a client dials)."""
    if role not in ROLES:
        raise errors.InvalidArgument(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if not name or "/" in name or name.startswith(".") or len(name) > 64:
        raise errors.InvalidArgument(f"not a usable certificate name: {name!r}")
    if role in SERVER_ROLES and not hosts:
        raise errors.InvalidArgument(f"a {role} certificate needs the host(s) it serves on")
    try:
        ca_key = serialization.load_pem_private_key((directory / CA_KEY).read_bytes(), None)
        ca_cert = x509.load_pem_x509_certificate((directory / CA_CERT).read_bytes())
    except FileNotFoundError:
        raise errors.NotFound(f"no CA in {directory} (gfs certs init {directory})") from None
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(name, role))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATED)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
    )
    if hosts:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_alternative_name(h) for h in hosts]), critical=False
        )
    cert = builder.sign(ca_key, hashes.SHA256())
    issued = Issued(directory / f"{name}.pem", directory / f"{name}.key")
    _write(issued.key, _key_pem(key), private=True)
    _write(issued.cert, cert.public_bytes(serialization.Encoding.PEM), private=False)
    return issued
