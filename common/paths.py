"""Path rules shared by the client and the master: absolute, '/'-separated, no '.' or '..'."""

from __future__ import annotations

from common.errors import InvalidPath

__all__ = ["InvalidPath", "ancestors", "is_within", "normalize", "parent"]

MAX_PATH = 4096
MAX_NAME = 255


def normalize(path: str) -> str:
    """Returns the canonical form of `path` ('/a//b/' -> '/a/b') or raises InvalidPath."""
    if not path.startswith("/"):
        raise InvalidPath(f"path must be absolute (start with '/'): {path!r}")
    if len(path) > MAX_PATH:
        raise InvalidPath(f"path longer than {MAX_PATH} characters")
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:  # bytes a local file name had, which are not UTF-8
        raise InvalidPath(f"path is not valid UTF-8: {path!r}") from None
    names = [name for name in path.split("/") if name]
    for name in names:
        if name in (".", ".."):
            raise InvalidPath(f"path may not contain '.' or '..': {path!r}")
        if len(name) > MAX_NAME:
            raise InvalidPath(f"path component longer than {MAX_NAME} characters: {name[:20]!r}...")
        if any(ord(c) < 32 or c == "\x7f" for c in name):
            raise InvalidPath(f"path contains a control character: {path!r}")
    return "/" + "/".join(names)


def parent(path: str) -> str:
    """The parent of a normalized path; the root is its own parent."""
    if path == "/":
        return "/"
    head = path.rsplit("/", 1)[0]
    return head or "/"


def ancestors(path: str) -> list[str]:
    """Every proper ancestor of a normalized path, root first: '/a/b/c' -> ['/', '/a', '/a/b']."""
    if path == "/":
        return []
    out = ["/"]
    names = path.strip("/").split("/")
    for i in range(1, len(names)):
        out.append("/" + "/".join(names[:i]))
    return out


def is_within(path: str, top: str) -> bool:
    """True when `path` is `top` or lies below it."""
    return path == top or top == "/" or path.startswith(top + "/")
