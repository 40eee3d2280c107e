"""Safe file writes (filesystem adapter): atomic replace, never clobber user files by accident."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class RefusedOverwrite(Exception):
    """A file exists and ``force`` was not given."""


def atomic_write(path: Path, data: str | bytes, *, force: bool = True, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and ``os.replace``.

    Readers see either the old file or the complete new one, never a torn
    write.  With ``force=False`` an existing file is left alone and
    :class:`RefusedOverwrite` is raised.
    """
    path = Path(path)
    if not force and path.exists():
        raise RefusedOverwrite(f"{path}: already exists (use --force to overwrite)")
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
