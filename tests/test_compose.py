"""The compose cluster as a user deploys it: `deploy/up.sh` brings it up secure, with
Prometheus (Debian's package) scraping every node; a user puts and gets over mutual TLS, and
Prometheus's own HTTP API finds every target up and the cluster's figures in them."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from client.client import Client
from common import errors
from common.tls import TlsFiles
from tests.conftest import ROOT, unavailable
from tests.faults.docker import docker_available

pytestmark = pytest.mark.cluster

NET = "172.28.7"
MASTERS = f"{NET}.10:9000,{NET}.11:9000,{NET}.12:9000"  # the master replicas


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    reason = docker_available()
    if reason:
        unavailable(reason)
    env = {
        **os.environ,
        "GFS_PROJECT": f"pygfscompose{os.getpid()}",
        "GFS_NET": NET,
        "GFS_PROMETHEUS_PORT": str(free_port()),
        "GFS_TLS_DIR": str(tmp_path_factory.mktemp("compose") / "tls"),
        "GFS_RESTART": "no",
    }
    up = subprocess.run(
        ["bash", str(ROOT / "deploy" / "up.sh")], env=env, capture_output=True, text=True,
        timeout=900,
    )  # fmt: skip
    try:
        assert up.returncode == 0, up.stderr[-3000:]
        assert "Prometheus: http://127.0.0.1:" in up.stdout, up.stdout
        yield env
    finally:
        subprocess.run(
            ["bash", str(ROOT / "deploy" / "down.sh"), "--volumes", "-t", "3"], env=env,
            capture_output=True, timeout=300,
        )  # fmt: skip


def prometheus(env: dict[str, str], path: str, **params: str) -> Any:
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    url = f"http://127.0.0.1:{env['GFS_PROMETHEUS_PORT']}/api/v1/{path}{query}"
    with urllib.request.urlopen(url, timeout=10) as reply:
        answer = json.loads(reply.read())
    assert answer["status"] == "success", answer
    return answer["data"]


def test_a_user_puts_and_gets_on_the_secure_compose_cluster(deployed: dict[str, str]) -> None:
    tls_dir = Path(deployed["GFS_TLS_DIR"])
    tls = TlsFiles(tls_dir / "ca.pem", tls_dir / "client.pem", tls_dir / "client.key")
    data = os.urandom(3 * 1024 * 1024 + 5)
    with Client(MASTERS, timeout=30, tls=tls) as gfs:
        gfs.put(io.BytesIO(data), "/user/client/deployed.bin")
        assert gfs.read("/user/client/deployed.bin", 0, len(data)) == data
        roles = sorted(m["role"] for m in gfs.report().masters)
    assert roles == ["active", "standby", "standby"]
    stranger = Client(MASTERS, timeout=10)  # no certificate
    with stranger, pytest.raises(errors.Unavailable, match=r"socket closed|handshake"):
        stranger.ls("/")


def test_prometheus_scrapes_every_node(deployed: dict[str, str]) -> None:
    want = {f"{n}:9180" for n in ("master0", "master1", "master2", "cs0", "cs1", "cs2", "cs3")}
    deadline = time.monotonic() + 90
    while True:
        targets = prometheus(deployed, "targets")["activeTargets"]
        up = {t["labels"]["instance"] for t in targets if t["health"] == "up"}
        if up >= want:
            break
        assert time.monotonic() < deadline, f"targets not all up: {targets}"
        time.sleep(1)
    alive = prometheus(deployed, "query", query='gfs_master_chunkservers{state="alive"}')
    values = {r["metric"]["instance"]: float(r["value"][1]) for r in alive["result"]}
    assert 4 in values.values(), alive  # as the active replica sees them
