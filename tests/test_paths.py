from __future__ import annotations

import pytest

from common import paths


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [("/", "/"), ("/a", "/a"), ("/a//b/", "/a/b"), ("//x", "/x"), ("/a b/c-d_e.f", "/a b/c-d_e.f")],
)
def test_normalize_gives_the_canonical_form(raw: str, canonical: str) -> None:
    assert paths.normalize(raw) == canonical


@pytest.mark.parametrize("bad", ["", "a/b", "/a/../b", "/./a", "/a\x00b", "/a\nb", "/" + "x" * 256])
def test_malformed_paths_are_refused(bad: str) -> None:
    with pytest.raises(paths.InvalidPath):
        paths.normalize(bad)


def test_ancestors_and_parent() -> None:
    assert paths.ancestors("/a/b/c") == ["/", "/a", "/a/b"]
    assert paths.ancestors("/") == []
    assert paths.parent("/a/b") == "/a"
    assert paths.parent("/a") == "/"
    assert paths.is_within("/a/b", "/a") and not paths.is_within("/ab", "/a")
