"""On-disk content-hash cache of parsed facts (SQLite adapter).

The key is a SHA-256 over the facts format version, the module name, the
package flag, the relative path and the file's bytes, so an unchanged file is
never parsed twice, and a renamed or moved file is (its relative imports may
resolve differently).  Failures are cached too: an unchanged broken file is
reported again without re-parsing.

The cache lives in ``<root>/.decompose_cache/`` (with a ``CACHEDIR.TAG`` and a
``.gitignore`` so it is never committed).  If that folder cannot be written
(a read-only tree) the per-user cache folder is used instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path

from decompose.analysis.facts import FACTS_VERSION, ModuleFacts
from decompose.fsio import make_folder

CACHE_DIRNAME = ".decompose_cache"
_TAG = "Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by decompose.\n"


def content_key(module: str, is_package: bool, relpath: str, data: bytes) -> str:
    h = hashlib.sha256()
    h.update(f"{FACTS_VERSION}\0{module}\0{int(is_package)}\0{relpath}\0".encode())
    h.update(data)
    return h.hexdigest()


def tag_cache_dir(folder: Path) -> None:
    """Create ``folder`` marked as a cache: CACHEDIR.TAG for backup tools, a
    ``.gitignore`` of ``*`` so nothing in it is ever committed by accident."""
    make_folder(folder)
    tag = folder / "CACHEDIR.TAG"
    if not tag.exists():
        tag.write_text(_TAG)
    ignore = folder / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# created by decompose\n*\n")


def default_cache_dir(root: Path) -> Path:
    candidate = (root if root.is_dir() else root.parent) / CACHE_DIRNAME
    try:
        tag_cache_dir(candidate)
        probe = candidate / ".probe"
        probe.write_text("")
        probe.unlink()
        return candidate
    except OSError:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "decompose"
        digest = hashlib.sha256(str(root).encode()).hexdigest()[:16]
        return base / digest


class FactsCache:
    """A SQLite table ``key -> facts JSON | failure reason``."""

    def __init__(self, folder: Path):
        tag_cache_dir(folder)
        self.path = folder / "facts.sqlite3"
        self._db = sqlite3.connect(self.path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS facts (key TEXT PRIMARY KEY, facts TEXT, error TEXT)"
        )
        self._pending: list[tuple[str, str | None, str | None]] = []

    def get_many(self, keys: list[str]) -> dict[str, tuple[ModuleFacts | None, str | None]]:
        out: dict[str, tuple[ModuleFacts | None, str | None]] = {}
        cur = self._db.cursor()
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for key, facts, error in cur.execute(
                f"SELECT key, facts, error FROM facts WHERE key IN ({marks})", chunk
            ):
                out[key] = (ModuleFacts.from_dict(json.loads(facts)) if facts else None, error)
        return out

    def put(self, key: str, facts: ModuleFacts | None, error: str | None) -> None:
        payload = json.dumps(facts.to_dict(), separators=(",", ":")) if facts is not None else None
        self._pending.append((key, payload, error))

    def commit(self) -> None:
        if self._pending:
            with self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO facts (key, facts, error) VALUES (?, ?, ?)", self._pending
                )
            self._pending.clear()

    def retain(self, keys: set[str]) -> int:
        """Drop entries not in ``keys`` (after a full analysis); returns how many went."""
        self.commit()
        with self._db:
            self._db.execute("CREATE TEMP TABLE IF NOT EXISTS live (key TEXT PRIMARY KEY)")
            self._db.execute("DELETE FROM live")
            self._db.executemany("INSERT OR IGNORE INTO live VALUES (?)", [(k,) for k in keys])
            cur = self._db.execute("DELETE FROM facts WHERE key NOT IN (SELECT key FROM live)")
        return cur.rowcount

    def close(self) -> None:
        self.commit()
        self._db.close()
