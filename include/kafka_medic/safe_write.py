"""Output files written safely: checked before any work, then a unique temp file renamed over the target.

Why each part:
- `check_target` refuses, before a command starts planning or snapshotting, a target it could not or must
  not write: a missing or read-only directory, a path naming a directory, a device node, a FIFO or a
  socket. The directory is probed by creating (and removing) a real temp file, which is the only test
  that holds for root, read-only mounts and ACLs alike.
- `write_atomic` creates its temp file with `tempfile.mkstemp` (O_CREAT | O_EXCL, a random name, mode
  0600) in the target's directory, so no predictable name exists at which a planted symlink could
  redirect the write; it then renames the temp file over the target, so a reader sees the old file or
  the new one, never half of one.
- A symlink target is written through: the file the link points to is replaced and the link stays. An
  operator who points `-o` at a link means the link's file, not to have the link silently become a file.
"""

from __future__ import annotations

import os
import stat
import tempfile
from contextlib import suppress
from pathlib import Path

from kafka_medic.limits import file_kind


class UnwritableTarget(ValueError):
    """An output path kafka-medic refuses to write; the message reads after the path, e.g. "is a FIFO"."""


def check_target(path: str | os.PathLike) -> Path:
    """The file a write to `path` would replace (a symlink's target), refused as `UnwritableTarget` when it
    cannot be written; leaves nothing behind."""
    target, _ = _target(path)
    fd, probe = _temp_file(target)
    os.close(fd)
    os.unlink(probe)
    return target


def write_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` through a unique temp file and a rename; the target keeps its permissions.

    Raises UnwritableTarget for a target that `check_target` refuses, OSError when writing fails (the temp
    file is removed either way).
    """
    target, mode = _target(path)
    fd, temp = _temp_file(target)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
            os.fchmod(file.fileno(), mode)
        os.replace(temp, target)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def _target(path: str | os.PathLike) -> tuple[Path, int]:
    """The real file to replace and the mode the new file gets (the old file's, else 0666 less the umask)."""
    text = os.fspath(path)
    if not text or text.endswith(os.sep) or Path(text).name in ("", ".", ".."):
        raise UnwritableTarget("names a directory, not a file")
    target = Path(os.path.realpath(text))  # a symlink is written through, never replaced by a file
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:  # a symlink loop, a path through a file, no permission
        raise UnwritableTarget(exc.strerror or str(exc)) from None
    if mode is not None and not stat.S_ISREG(mode):
        raise UnwritableTarget(f"is {file_kind(mode)}, not a regular file")
    if not target.parent.is_dir():
        raise UnwritableTarget(f"is in {target.parent}, which is not an existing directory")
    return target, stat.S_IMODE(mode) if mode is not None else 0o666 & ~_umask()


def _temp_file(target: Path) -> tuple[int, str]:
    try:
        return tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise UnwritableTarget(f"is in {target.parent}, where no file can be created: {exc.strerror}") from None


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
