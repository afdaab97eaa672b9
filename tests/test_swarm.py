"""The cluster as a Docker Swarm stack (deploy/stack.yml), on a swarm of one node as CI has:
deployed with deploy/swarm-up.sh, a file put and got back through it, a chunkserver's task
killed and replaced by the swarm with the file's every replica healthy again, the stack
removed with deploy/swarm-down.sh."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, unavailable
from tests.faults.docker import docker_available

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(900)]  # a build, a deploy, a removal

IMAGE = "pygfs:swarm"
MASTERS = "master0:9000,master1:9000,master2:9000"


def docker(*args: str, check: bool = True) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {result.stderr.strip()[-2000:]}")
    return result.stdout.strip()


@pytest.fixture(scope="module")
def swarm() -> Iterator[None]:
    """A swarm of this one engine: joined for the test if it was not one, and left after."""
    reason = docker_available()
    if reason:
        unavailable(reason)
    if docker("info", "--format", "{{.Swarm.LocalNodeState}}") == "active":
        yield
        return
    docker("swarm", "init", "--advertise-addr", "127.0.0.1")
    try:
        yield
    finally:
        docker("swarm", "leave", "--force", check=False)


@pytest.fixture
def stack(swarm: None, tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {
        **os.environ,
        "GFS_STACK": f"pygfsswarm{os.getpid()}",
        "GFS_IMAGE": IMAGE,
        "GFS_TLS_DIR": str(tmp_path / "tls"),
        "GFS_DEAD_AFTER": "4",  # the master calls a killed chunkserver dead soon
    }
    try:
        up = subprocess.run(
            ["bash", str(ROOT / "deploy" / "swarm-up.sh")],
            env=env, capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        assert up.returncode == 0, up.stderr[-3000:]
        yield env
    finally:
        down = subprocess.run(
            ["bash", str(ROOT / "deploy" / "swarm-down.sh"), "--volumes"],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert down.returncode == 0, down.stderr[-2000:]


def gfs(env: dict[str, str], work: Path, *args: str, check: bool = True) -> str:
    """`gfs` as the superuser in a container on the stack's network; `work` is its /work."""
    return docker(
        "run", "--rm", "--network", f"{env['GFS_STACK']}_gfs",
        "-v", f"{env['GFS_TLS_DIR']}:/tls:ro", "-v", f"{work}:/work", IMAGE,
        "gfs", "--master", MASTERS, "--timeout", "30", "--tls-ca", "/tls/ca.pem",
        "--tls-cert", "/tls/admin.pem", "--tls-key", "/tls/admin.key", *args, check=check,
    )  # fmt: skip


def task_container(env: dict[str, str], service: str) -> str:
    """The running container of `service`'s task on this node ("" if none runs)."""
    label = f"com.docker.swarm.service.name={env['GFS_STACK']}_{service}"
    return docker("ps", "-q", "--filter", f"label={label}", "--filter", "status=running")


def wait_until(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"waited {timeout:.0f}s in vain until {what}"
        time.sleep(1)


def test_the_stack_serves_replaces_a_killed_chunkserver_and_heals(
    stack: dict[str, str], tmp_path: Path
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    os.chmod(work, 0o777)
    data = os.urandom(5 * 1024 * 1024 + 17)
    (work / "in.bin").write_bytes(data)
    gfs(stack, work, "put", "/work/in.bin", "/f.bin")
    gfs(stack, work, "get", "/f.bin", "/work/out.bin")
    assert (work / "out.bin").read_bytes() == data
    roles = sorted(m["role"] for m in json.loads(gfs(stack, work, "report", "--json"))["masters"])
    assert roles == ["active", "standby", "standby"]

    killed = task_container(stack, "cs1")
    assert killed, "no running task of cs1"
    docker("kill", killed)
    wait_until(
        lambda: task_container(stack, "cs1") not in ("", killed), 120, "the swarm replaced cs1"
    )

    def healed() -> bool:
        report = json.loads(gfs(stack, work, "fsck", "/", "--json", check=False) or "{}")
        if not report:
            return False
        alive = json.loads(gfs(stack, work, "report", "--json"))["chunkservers"]
        return (
            report["healthy"] == report["chunks"] > 0
            and sum(s["state"] == "alive" for s in alive) == 4
        )

    wait_until(healed, 120, "every chunk is healthy with cs1's new task alive")
    (work / "out.bin").unlink()
    gfs(stack, work, "get", "/f.bin", "/work/out.bin")
    assert (work / "out.bin").read_bytes() == data
