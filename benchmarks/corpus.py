"""Real-world source trees for tests and benchmarks, fetched from PyPI once and cached.

``django_source()`` returns a folder holding Django's ``django/`` package,
unpacked from the official wheel (pure Python, so the wheel *is* the source).
The cache folder is ``$DECOMPOSE_CORPUS_DIR`` or ``~/.cache/decompose-corpus``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

DJANGO_VERSION = "5.2.8"


def corpus_dir() -> Path:
    return Path(os.environ.get("DECOMPOSE_CORPUS_DIR") or Path.home() / ".cache" / "decompose-corpus")


def pypi_wheel_source(dist: str, version: str) -> Path:
    """Download ``dist==version`` (a pure-Python wheel) and unpack it; returns the folder."""
    target = corpus_dir() / f"{dist}-{version}"
    marker = target / ".complete"
    if marker.exists():
        return target
    wheels = corpus_dir() / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
         "--no-deps", "--only-binary=:all:", "-d", str(wheels), f"{dist}=={version}"],
        check=True,
    )
    prefix = f"{dist.replace('-', '_').lower()}-{version}-"
    wheel = next(p for p in sorted(wheels.glob("*.whl")) if p.name.lower().startswith(prefix))
    tmp = target.with_name(target.name + ".tmp")
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(tmp)
    if target.exists():
        import shutil

        shutil.rmtree(target)
    tmp.rename(target)
    marker.write_text("ok\n")
    return target


def django_source(version: str = DJANGO_VERSION) -> Path:
    return pypi_wheel_source("django", version)


if __name__ == "__main__":
    print(django_source())
