"""The `gfs` verbs that move file contents in and out, safe as `hdfs dfs`'s: put, get, cat and
touchz.

- put lands a file under a temporary name (`NAME._COPYING_`) and renames it when complete, so
  nobody sees half a file; a put that fails or is interrupted leaves nothing (not even in the
  trash). An existing target is refused without -f.
- get writes a temporary file beside the target and renames it at the end; an existing local
  file is refused without -f; a get that fails or is interrupted leaves nothing.
- A target that is an existing directory (or ends with '/') receives the source inside it, as
  cp does; a source directory is copied recursively; remote sources may be patterns.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, BinaryIO

import click

from client.cli_common import client_of
from client.client import Client
from common import errors, paths

COPYING = "._COPYING_"  # HDFS's suffix for a file being put

force_option = click.option("-f", "force", is_flag=True, help="Overwrite an existing target.")


@contextlib.contextmanager
def progress_bar(total: int | None, label: str) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on a terminal (stderr), none when piped."""
    if not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=total or 0, label=label, file=sys.stderr) as bar:
        yield bar.update


@contextlib.contextmanager
def local_file(path: str, mode: str) -> Iterator[BinaryIO]:
    if path == "-":
        yield (sys.stdin.buffer if "r" in mode else sys.stdout.buffer)
        return
    try:
        f: IO[bytes] = open(path, mode)  # noqa: SIM115
    except OSError as err:
        raise click.ClickException(f"cannot open local file {path}: {err.strerror}") from None
    with f:
        yield f  # type: ignore[misc]  # open(..., "rb"/"wb") is a binary stream


def _name(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def _remote_is_dir(client: Client, path: str) -> bool:
    try:
        return client.stat(path).is_dir
    except errors.NotFound:
        return False


def _remote_target(client: Client, dst: str, name: str, many: bool) -> tuple[str, bool]:
    """Where a source called `name` goes, and whether `dst` is a directory it goes into."""
    into = _remote_is_dir(client, dst)
    if not into and (dst.endswith("/") or many):
        if client.exists(dst):
            raise errors.NotADirectory(f"not a directory: {paths.normalize(dst)}")
        raise errors.NotFound(f"no such directory: {paths.normalize(dst)}")
    return (paths.normalize(dst) + "/" + name if into else paths.normalize(dst)), into


# --- put --------------------------------------------------------------------------------------


def put_file(
    client: Client,
    source: BinaryIO,
    target: str,
    force: bool,
    size: int | None,
    replication: int = 0,
) -> None:
    """`source` as the file `target`, which appears only once complete."""
    target = paths.normalize(target)
    if target.endswith(COPYING):
        raise errors.InvalidPath(f"a name ending in {COPYING} is put's own: {target}")
    exists = client.exists(target)
    if exists and not force:
        raise errors.AlreadyExists(f"already exists: {target} (-f overwrites it)")
    if exists and client.stat(target).is_dir:
        raise errors.IsADirectory(f"is a directory: {target}")
    temporary = target + COPYING
    with contextlib.suppress(errors.NotFound):  # left by a put that was killed
        client.rm(temporary, skip_trash=True)
    with progress_bar(size, "put") as progress:
        client.put(source, temporary, progress, replication)  # removes its partial file
    try:
        if exists:
            client.rm(target, skip_trash=True)
        client.mv(temporary, target)
    except BaseException:
        with contextlib.suppress(errors.GfsError):
            client.rm(temporary, skip_trash=True)
        raise


def put_path(client: Client, local: Path, target: str, force: bool, replication: int) -> None:
    """A local file, or a directory and everything under it, as `target`."""
    if local.is_dir():
        if not _remote_is_dir(client, target):
            client.mkdir(target)
        for child in sorted(local.iterdir()):
            put_path(client, child, target.rstrip("/") + "/" + child.name, force, replication)
        return
    with local_file(str(local), "rb") as source:
        put_file(client, source, target, force, local.stat().st_size, replication)


@click.command()
@force_option
@click.option(
    "--replication",
    type=click.IntRange(min=1),
    default=None,
    help="Replicas of each chunk (default: the cluster's).",
)
@click.argument("sources", nargs=-1, required=True, metavar="LOCAL...")
@click.argument("remote")
@click.pass_context
def put(
    ctx: click.Context,
    force: bool,
    replication: int | None,
    sources: tuple[str, ...],
    remote: str,
) -> None:
    """Copy local files or directories (- for stdin) into pygfs. Into REMOTE if it is a
    directory; an existing file is refused without -f."""
    client = client_of(ctx)
    if "-" in sources:
        if len(sources) > 1:
            raise click.UsageError("- (stdin) must be the only source")
        target, _ = _remote_target(client, remote, "-", many=False)
        if target.endswith("/-"):
            raise errors.InvalidArgument("name the file stdin goes to, not a directory")
        put_file(client, sys.stdin.buffer, target, force, None, replication or 0)
        return
    for source in sources:
        if not os.path.exists(source):
            raise click.ClickException(
                f"cannot open local file {source}: No such file or directory"
            )
    for source in sources:
        local = Path(source)
        target, _ = _remote_target(client, remote, local.resolve().name, len(sources) > 1)
        put_path(client, local, target, force, replication or 0)


# --- get --------------------------------------------------------------------------------------


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def get_file(client: Client, remote: str, target: Path, force: bool, size: int) -> None:
    """The file `remote` as the local `target`, which appears only once complete."""
    if target.exists() and not force:
        raise click.ClickException(f"local file exists: {target} (-f overwrites it)")
    if target.is_dir():
        raise click.ClickException(f"local path is a directory: {target}")
    try:
        fd, temporary = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".gfs-part", dir=target.parent
        )
    except OSError as err:
        raise click.ClickException(f"cannot write in {target.parent}: {err.strerror}") from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # as a file the user created (mkstemp's is 0600)
        with os.fdopen(fd, "wb") as sink, progress_bar(size, "get") as progress:
            client.get(remote, sink, progress)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def get_path(client: Client, remote: str, target: Path, force: bool) -> None:
    stat = client.stat(remote)
    if not stat.is_dir:
        get_file(client, remote, target, force, stat.size)
        return
    if target.exists() and not target.is_dir():
        raise click.ClickException(f"local path is not a directory: {target}")
    target.mkdir(exist_ok=True)
    for entry in client.ls(remote):
        get_path(client, entry.path, target / _name(entry.path), force)


@click.command()
@force_option
@click.argument("sources", nargs=-1, required=True, metavar="REMOTE...")
@click.argument("local")
@click.pass_context
def get(ctx: click.Context, force: bool, sources: tuple[str, ...], local: str) -> None:
    """Copy files or directories (patterns allowed) out of pygfs into LOCAL (- for stdout).
    Into LOCAL if it is a directory; an existing file is refused without -f."""
    client = client_of(ctx)
    found = [p for pattern in sources for p in client.glob(pattern)]
    if local == "-":
        for path in found:
            client.get(path, sys.stdout.buffer)  # a directory: IsADirectory
        return
    into = Path(local).is_dir()
    if len(found) > 1 and not into:
        raise click.ClickException(f"not a local directory: {local} (the target of many)")
    for path in found:
        target = Path(local) / _name(path) if into else Path(local)
        get_path(client, path, target, force)


@click.command()
@click.argument("patterns", nargs=-1, required=True, metavar="REMOTE...")
@click.pass_context
def cat(ctx: click.Context, patterns: tuple[str, ...]) -> None:
    """Write files (patterns allowed) to stdout, one after another."""
    client = client_of(ctx)
    for path in [p for pattern in patterns for p in client.glob(pattern)]:
        client.get(path, sys.stdout.buffer)  # a directory: IsADirectory
        sys.stdout.buffer.flush()


@click.command()
@click.argument("paths_", nargs=-1, required=True, metavar="REMOTE...")
@click.pass_context
def touchz(ctx: click.Context, paths_: tuple[str, ...]) -> None:
    """Create empty files; an existing empty file is left as it is (as hdfs dfs -touchz)."""
    client = client_of(ctx)
    for path in paths_:
        try:
            client.create(path)
        except errors.AlreadyExists:
            stat = client.stat(path)
            if stat.is_dir or stat.size:
                raise errors.AlreadyExists(
                    f"already exists and is not an empty file: {stat.path}"
                ) from None


COMMANDS = [put, get, cat, touchz]
