"""Remote path patterns, as a shell and `hdfs dfs` expand them: `*`, `?` and `[...]` within
one path component, matched against the names a directory listing gives (pure: the listing
is passed in). A name starting with '.' is matched only by a component that starts with '.'."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable

from common import errors, paths

_MAGIC = re.compile(r"[*?[]")

# A directory's entries as (full path, is a directory); raises NotFound/NotADirectory.
Lister = Callable[[str], list[tuple[str, bool]]]


def has_magic(pattern: str) -> bool:
    return _MAGIC.search(pattern) is not None


def _join(base: str, name: str) -> str:
    return base.rstrip("/") + "/" + name


def expand(pattern: str, listdir: Lister, exists: Callable[[str], bool]) -> list[str]:
    """Every path `pattern` matches, sorted; a pattern without magic is itself (whether it
    exists is for the operation to find). Raises NotFound when nothing matches."""
    path = paths.normalize(pattern)
    if not has_magic(path):
        return [path]
    found = ["/"]
    parts = path.strip("/").split("/")
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if not has_magic(part):
            found = [_join(base, part) for base in found]
            continue
        matched = []
        for base in found:
            try:
                entries = listdir(base)
            except (errors.NotFound, errors.NotADirectory):
                continue
            for full, is_dir in entries:
                if paths.parent(full) != base:
                    continue  # `base` is a file: its listing is itself
                name = full.rsplit("/", 1)[-1]
                if name.startswith(".") and not part.startswith("."):
                    continue
                if fnmatch.fnmatchcase(name, part) and (last or is_dir):
                    matched.append(full)
        found = matched
    # Plain components after a pattern were joined blindly: keep the paths that exist.
    found = [p for p in found if exists(p)] if not has_magic(parts[-1]) else found
    if not found:
        raise errors.NotFound(f"no such file or directory matches: {pattern}")
    return sorted(found)
