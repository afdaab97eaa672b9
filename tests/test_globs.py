"""Remote path patterns, expanded against a listing as `hdfs dfs` and a shell do."""

from __future__ import annotations

import pytest

from client.globs import expand
from common import errors, paths

TREE = {
    "/": ["/logs", "/data", "/.hidden", "/top.txt"],
    "/logs": ["/logs/2026-01", "/logs/2026-02", "/logs/old.txt"],
    "/logs/2026-01": ["/logs/2026-01/a.log", "/logs/2026-01/b.log", "/logs/2026-01/.tmp.log"],
    "/logs/2026-02": ["/logs/2026-02/c.log"],
    "/data": ["/data/x.csv"],
    "/.hidden": ["/.hidden/secret.log"],
}
FILES = {p for names in TREE.values() for p in names if p not in TREE}


def listdir(path: str) -> list[tuple[str, bool]]:
    if path in FILES:
        return [(path, False)]  # as the master lists a file: itself
    if path not in TREE:
        raise errors.NotFound(f"no such file or directory: {path}")
    return [(p, p in TREE) for p in TREE[path]]


def exists(path: str) -> bool:
    return path in TREE or path in FILES


def glob(pattern: str) -> list[str]:
    return expand(pattern, listdir, exists)


def test_patterns_match_within_components() -> None:
    assert glob("/logs/*/*.log") == [
        "/logs/2026-01/a.log",
        "/logs/2026-01/b.log",
        "/logs/2026-02/c.log",
    ]
    assert glob("/logs/2026-0[2-9]") == ["/logs/2026-02"]
    assert glob("/logs/2026-0?/c.log") == ["/logs/2026-02/c.log"]
    assert glob("/*") == ["/data", "/logs", "/top.txt"], "dot names only for a dot pattern"
    assert glob("/.*/*.log") == ["/.hidden/secret.log"]
    assert glob("/logs/*/.*") == ["/logs/2026-01/.tmp.log"]


def test_plain_paths_pass_through_and_misses_are_not_found() -> None:
    assert glob("/no/such/file") == ["/no/such/file"], "existence is the operation's to find"
    assert glob("//logs//old.txt") == ["/logs/old.txt"]
    with pytest.raises(errors.NotFound, match="matches: /logs/\\*/none"):
        glob("/logs/*/none")
    with pytest.raises(FileNotFoundError):
        glob("/nothing*")


def test_a_file_is_no_directory_to_match_in() -> None:
    with pytest.raises(errors.NotFound):
        glob("/top.txt/*")
    with pytest.raises(paths.InvalidPath):
        glob("relative/*")
