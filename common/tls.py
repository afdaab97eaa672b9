"""Mutual TLS: the files a process proves itself with, the gRPC credentials made of them, and
who the peer of an incoming call is (its certificate's name, role and hosts).

Without TLS files a process runs insecure, as HDFS's simple mode: fine on loopback, where
`gfs cluster up` binds, and every caller is trusted. With them, every channel is mutual TLS
and every server checks each caller's role (`common.access`).
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography import x509
from cryptography.x509.oid import NameOID

from common import errors


@dataclass(frozen=True)
class TlsFiles:
    """The CA that signs the cluster's certificates, and this process's certificate and key."""

    ca: Path
    cert: Path
    key: Path

    @staticmethod
    def given(
        ca: str | Path | None, cert: str | Path | None, key: str | Path | None
    ) -> TlsFiles | None:
        """From the three options (or their environment variables): all three or none."""
        if not (ca or cert or key):
            return None
        if not (ca and cert and key):
            raise errors.InvalidArgument(
                "TLS needs all three of --tls-ca, --tls-cert and --tls-key"
            )
        files = TlsFiles(Path(ca), Path(cert), Path(key))
        for path in (files.ca, files.cert, files.key):
            if not path.is_file():
                raise errors.NotFound(f"no such TLS file: {path}")
        return files

    def _read(self) -> tuple[bytes, bytes, bytes]:
        return self.ca.read_bytes(), self.cert.read_bytes(), self.key.read_bytes()

    def channel_credentials(self) -> grpc.ChannelCredentials:
        ca, cert, key = self._read()
        return grpc.ssl_channel_credentials(
            root_certificates=ca, private_key=key, certificate_chain=cert
        )

    def server_credentials(self) -> grpc.ServerCredentials:
        ca, cert, key = self._read()
        return grpc.ssl_server_credentials(
            [(key, cert)], root_certificates=ca, require_client_auth=True
        )

    def identity(self) -> Identity:
        """Who this process is, by its own certificate."""
        return _parse(self.cert.read_bytes())


@dataclass(frozen=True)
class Identity:
    name: str
    role: str
    hosts: frozenset[str]  # the hosts a server may claim (IP addresses normalised)

    def may_claim(self, address: str) -> bool:
        """Whether this identity's certificate names the host of `address` (HOST:PORT)."""
        host = address.rsplit(":", 1)[0].strip("[]")
        return _normal(host) in self.hosts


def _normal(host: str) -> str:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host.lower()


@functools.lru_cache(maxsize=4096)
def _parse(pem: bytes) -> Identity:
    cert = x509.load_pem_x509_certificate(pem)

    def attribute(oid: x509.ObjectIdentifier) -> str:
        found = cert.subject.get_attributes_for_oid(oid)
        return str(found[0].value) if found else ""

    hosts: set[str] = set()
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        hosts.update(_normal(str(ip)) for ip in names.get_values_for_type(x509.IPAddress))
        hosts.update(_normal(dns) for dns in names.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        pass
    return Identity(
        attribute(NameOID.COMMON_NAME),
        attribute(NameOID.ORGANIZATIONAL_UNIT_NAME),
        frozenset(hosts),
    )


def peer(context: grpc.ServicerContext) -> Identity | None:
    """The verified identity of the caller, or None on an insecure server. Asked by the access
    check, the admission and the servicer of one call alike: found once, kept on the call."""
    known: Identity | bool | None = getattr(context, "_gfs_peer", False)
    if known is not False:
        return known  # type: ignore[return-value]
    # No identities: an insecure server (asked first: a third of what the whole auth context
    # costs, and an insecure server asks on every call).
    pems = context.auth_context().get("x509_pem_cert") if context.peer_identities() else None
    who = _parse(pems[0]) if pems else None
    with contextlib.suppress(AttributeError):  # a context that takes no attribute: ask again
        context._gfs_peer = who  # type: ignore[attr-defined]
    return who
