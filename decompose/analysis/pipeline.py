"""``analyze``: scan -> cached parallel parse -> graph -> metrics, for one project.

This is the one place that wires the filesystem adapters (scan, cache,
extract) to the pure core (graph, metrics); the CLI, ``plan``, ``check`` and
the benchmarks all go through it.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from decompose.analysis.cache import FactsCache, default_cache_dir
from decompose.config import Config, load_config
from decompose.analysis.extract import ExtractStats, Limits, Progress, extract
from decompose.analysis.facts import ModuleFacts, SkippedFile
from decompose.analysis.graph import DependencyGraph, build_graph
from decompose.analysis.metrics import Metrics, compute_metrics
from decompose.analysis.scan import scan
from decompose.fsio import UnusablePath


class AnalysisError(Exception):
    """Nothing could be analysed (missing path, no Python files, bad config)."""


@dataclass
class Analysis:
    root: Path
    config: Config
    facts: list[ModuleFacts]
    skipped: list[SkippedFile]
    notes: list[SkippedFile]
    graph: DependencyGraph
    metrics: Metrics
    stats: ExtractStats
    timings: dict[str, float] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def facts_by_module(self) -> dict[str, ModuleFacts]:
        return {f.module: f for f in self.facts}


def limits_of(config: Config) -> Limits:
    """The per-file bounds of ``[tool.decompose]`` (unset keys keep the defaults)."""
    default = Limits()
    return Limits(
        max_file_bytes=default.max_file_bytes if config.max_file_bytes is None else config.max_file_bytes,
        parse_timeout=default.parse_timeout if config.parse_timeout is None else float(config.parse_timeout),
    )


def _open_cache(folder: Path) -> FactsCache:
    try:
        return FactsCache(folder)
    except UnusablePath as exc:
        raise AnalysisError(f"{exc} (the facts cache folder)") from None
    except (OSError, sqlite3.Error) as exc:
        raise AnalysisError(f"{folder}: cannot use as the facts cache: {getattr(exc, 'strerror', None) or exc}") from None


def analyze(
    path: Path,
    *,
    exclude: list[str] | None = None,
    use_cache: bool = True,
    cache_dir: Path | None = None,
    jobs: int | None = None,
    progress: Progress | None = None,
    on_scanned=None,
) -> Analysis:
    t0 = time.perf_counter()
    path = Path(path)
    if not path.exists():
        raise AnalysisError(f"{path}: no such file or directory")
    root = path.resolve()
    config = load_config(root if root.is_dir() else root.parent)
    scanned = scan(root, exclude=[*config.exclude, *(exclude or [])], source_roots=config.source_roots)
    if not scanned.files and not scanned.skipped:
        raise AnalysisError(f"{path}: no Python files found")
    if on_scanned:
        on_scanned(len(scanned.files))
    t1 = time.perf_counter()
    cache = _open_cache(cache_dir or default_cache_dir(root)) if use_cache else None
    try:
        ex = extract(scanned.files, cache, jobs=jobs, progress=progress, limits=limits_of(config))
        if cache is not None and root.is_dir():
            cache.retain(set(ex.keys.values()))
    finally:
        if cache is not None:
            cache.close()
    t2 = time.perf_counter()
    graph = build_graph(ex.facts)
    metrics = compute_metrics(graph)
    t3 = time.perf_counter()
    skipped = sorted([*scanned.skipped, *ex.skipped], key=lambda s: s.path)
    return Analysis(
        root=root,
        config=config,
        facts=ex.facts,
        skipped=skipped,
        notes=scanned.notes,
        graph=graph,
        metrics=metrics,
        stats=ex.stats,
        timings={"scan": t1 - t0, "parse": t2 - t1, "graph": t3 - t2, "total": t3 - t0},
        keys=ex.keys,
    )
