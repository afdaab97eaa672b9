"""Permission bits as people write and read them: '755' in, 'drwxr-xr-x' out."""

from __future__ import annotations

from common.errors import InvalidArgument

MODE_BITS = 0o777  # read, write, execute for owner, group and others; no sticky or set-id bits


def mode_string(is_dir: bool, mode: int) -> str:
    """'drwxr-xr-x' for a directory with mode 0o755, as `ls -l` prints it."""
    bits = "".join(letter if mode & (1 << (8 - i)) else "-" for i, letter in enumerate("rwxrwxrwx"))
    return ("d" if is_dir else "-") + bits


def parse_mode(text: str) -> int:
    """An octal mode ('644', '0755') or InvalidArgument."""
    try:
        mode = int(text, 8)
    except ValueError:
        raise InvalidArgument(f"mode must be octal digits, as 644 or 0755: {text!r}") from None
    if not 0 <= mode <= MODE_BITS:
        raise InvalidArgument(f"mode must be within 0777 (no sticky or set-id bits): {text!r}")
    return mode
