"""The cluster's CA and the identities it issues: names, roles and the hosts a server may
claim travel in the certificate and are read back from a peer's."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from common import certs, errors
from common.tls import TlsFiles, _parse
from tests.conftest import run_gfs


def test_an_issued_certificate_carries_its_name_role_and_hosts(tmp_path: Path) -> None:
    certs.init_ca(tmp_path)
    issued = certs.issue(tmp_path, "cs7", "chunkserver", ["10.0.0.7", "cs7.example", "::1"])
    who = _parse(issued.cert.read_bytes())
    assert (who.name, who.role) == ("cs7", "chunkserver")
    assert who.may_claim("10.0.0.7:9100") and who.may_claim("CS7.example:1")
    assert who.may_claim("[::1]:9100") and who.may_claim("0:0:0:0:0:0:0:1:9100")
    assert not who.may_claim("10.0.0.8:9100")
    assert issued.key.stat().st_mode & 0o077 == 0, "a private key is its owner's only"
    files = TlsFiles.given(tmp_path / certs.CA_CERT, issued.cert, issued.key)
    assert files is not None and files.identity() == who


def test_a_user_certificate_claims_no_host(tmp_path: Path) -> None:
    certs.init_ca(tmp_path)
    who = _parse(certs.issue(tmp_path, "alice", "user").cert.read_bytes())
    assert (who.name, who.role, who.hosts) == ("alice", "user", frozenset())
    assert not who.may_claim("127.0.0.1:9100")


@pytest.mark.parametrize(
    ("name", "role", "hosts", "complaint"),
    [
        ("cs", "chunkserver", [], "needs the host"),
        ("bob", "root", [], "role must be one of"),
        ("../bob", "user", [], "not a usable certificate name"),
        ("", "user", [], "not a usable certificate name"),
    ],
)
def test_a_bad_request_for_a_certificate_is_one_clear_error(
    tmp_path: Path, name: str, role: str, hosts: list[str], complaint: str
) -> None:
    certs.init_ca(tmp_path)
    with pytest.raises(errors.InvalidArgument, match=complaint):
        certs.issue(tmp_path, name, role, hosts)


def test_a_ca_is_never_replaced_and_issuing_needs_one(tmp_path: Path) -> None:
    with pytest.raises(errors.NotFound, match="no CA in"):
        certs.issue(tmp_path, "alice", "user")
    certs.init_ca(tmp_path)
    key = (tmp_path / certs.CA_KEY).read_bytes()
    with pytest.raises(errors.AlreadyExists):
        certs.init_ca(tmp_path)
    assert (tmp_path / certs.CA_KEY).read_bytes() == key


def test_tls_files_are_all_three_or_none(tmp_path: Path) -> None:
    assert TlsFiles.given(None, None, None) is None
    with pytest.raises(errors.InvalidArgument, match="all three"):
        TlsFiles.given(tmp_path / "ca.pem", None, None)
    with pytest.raises(errors.NotFound, match="no such TLS file"):
        TlsFiles.given(tmp_path / "ca.pem", tmp_path / "x.pem", tmp_path / "x.key")


def test_gfs_certs_makes_a_ca_and_issues_identities(tmp_path: Path) -> None:
    ca = tmp_path / "ca"
    made = run_gfs("127.0.0.1:1", "certs", "init", str(ca))
    assert made.returncode == 0 and (ca / certs.CA_CERT).exists()
    again = run_gfs("127.0.0.1:1", "certs", "init", str(ca))
    assert again.returncode == 1 and again.stderr.decode() == f"gfs: a CA exists in {ca} already\n"
    server = run_gfs(
        "127.0.0.1:1", "certs", "issue", str(ca), "m", "--role", "master", "--host", "10.1.2.3"
    )
    assert server.returncode == 0, server.stderr
    assert _parse((ca / "m.pem").read_bytes()).hosts == frozenset({"10.1.2.3"})
    hostless = run_gfs("127.0.0.1:1", "certs", "issue", str(ca), "cs", "--role", "chunkserver")
    assert hostless.returncode == 1
    assert hostless.stderr.decode().splitlines() == [
        "gfs: a chunkserver certificate needs the host(s) it serves on"
    ]


def test_certificates_hold_for_a_node_whose_clock_runs_hours_behind(tmp_path: Path) -> None:
    """The fault suite's master an hour behind refused every peer's certificate ("not yet
    valid") when they were valid from five minutes before they were made."""
    from cryptography import x509

    ca = certs.init_ca(tmp_path)
    issued = certs.issue(tmp_path, "m0", "master", ["10.0.0.1"])
    behind = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=23)
    for pem in (ca, issued.cert):
        cert = x509.load_pem_x509_certificate(pem.read_bytes())
        assert cert.not_valid_before_utc < behind < cert.not_valid_after_utc
