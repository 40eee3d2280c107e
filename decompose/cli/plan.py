"""CLI commands ``plan``, ``evaluate`` and ``trace`` (wiring and presentation only)."""

from __future__ import annotations

import json
import os
import sys
import tomllib
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from decompose.cli.common import EXIT_OK, app, fail, fail_lines

DEFAULT_PLAN = Path("decompose.yaml")
DEFAULT_TRACE = Path("decompose-trace.json")


class PlanFormat(str, Enum):
    table = "table"
    json = "json"


def _project_name(root: Path) -> str:
    from decompose.planning.naming import dns_label

    name = root.name if root.is_dir() else root.stem
    pyproject = (root if root.is_dir() else root.parent) / "pyproject.toml"
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        name = data.get("project", {}).get("name") or name
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        pass
    return dns_label(str(name)) or "app"


def _analyze(path: Path, quiet: bool, no_cache: bool):
    from decompose.cli import console
    from decompose.analysis.pipeline import AnalysisError, analyze
    from decompose.config import ConfigError

    try:
        with console.progress_bar("parsing", quiet=quiet) as bar:
            return analyze(path, use_cache=not no_cache, progress=bar)
    except (AnalysisError, ConfigError, FileNotFoundError, ValueError) as exc:
        fail(str(exc))


def _plan_file(explicit: Optional[Path], an=None) -> Path:
    if explicit is not None:
        return explicit
    if an is not None and an.config.plan:
        base = Path(an.config.path).parent if an.config.path else an.root
        return base / an.config.plan
    return DEFAULT_PLAN


@app.command("plan")
def plan_cmd(
    path: Annotated[Optional[Path], typer.Argument(help="Project folder to analyse (with --check: default is the plan's source).")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Where to write the plan (default: decompose.yaml, or [tool.decompose] plan).")] = None,
    services: Annotated[Optional[int], typer.Option("--services", "-n", min=1, help="Target number of services.")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Seed of the clustering (default 42).")] = None,
    weights: Annotated[Optional[str], typer.Option("--weights", "-w", help="Signal weights, e.g. static=1,data=1,evolution=0.5,dynamic=1 (0 switches one off).")] = None,
    trace: Annotated[Optional[Path], typer.Option("--trace", help="Call trace recorded by `decompose trace` (dynamic signal, ICP).")] = None,
    method: Annotated[Optional[str], typer.Option("--method", help="Clustering: louvain (default) or greedy.")] = None,
    no_history: Annotated[bool, typer.Option("--no-history", help="Ignore git history (no evolutionary signal).")] = False,
    max_commits: Annotated[Optional[int], typer.Option("--max-commits", min=0, help="Newest git commits read for co-change (default 5000, or [tool.decompose.plan] max_commits; 0: the whole history).")] = None,
    format: Annotated[PlanFormat, typer.Option("--format", "-f", help="What to print: tables or the plan as JSON.")] = PlanFormat.table,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing plan that differs from this proposal.")] = False,
    check: Annotated[bool, typer.Option("--check", help="Validate an (edited) plan instead of proposing one.")] = False,
    plan_path: Annotated[Optional[Path], typer.Option("--plan", help="With --check: the plan file to validate (default decompose.yaml).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Parse every file, ignore the facts cache.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Propose services (decompose.yaml) with quality figures and blockers, or --check an edited plan.

    Exit status: 0 plan written (or valid); 2 bad input, refused overwrite or invalid plan.
    """
    if check:
        _check(path, plan_path or output, format, quiet, no_cache)
        return
    from decompose.planning import history
    from decompose.planning.cluster import ConstraintError, Constraints
    from decompose.fsio import RefusedOverwrite, atomic_write
    from decompose.planning.planfile import dumps_plan
    from decompose.planning.propose import propose
    from decompose.planning.signals import DEFAULT_WEIGHTS, parse_weights
    from decompose.planning.trace import TraceError, load_trace

    an = _analyze(path or Path("."), quiet, no_cache)
    opts = an.config.plan_options
    try:
        w = parse_weights(weights, base={**DEFAULT_WEIGHTS, **opts.weights})
    except ValueError as exc:
        fail(str(exc))
    calls = None
    if trace is not None:
        try:
            calls = load_trace(trace)
        except TraceError as exc:
            fail(str(exc))
    commits = None
    if w.get("evolution") and not no_history:
        limit = next(v for v in (max_commits, opts.max_commits, history.MAX_COMMITS) if v is not None)
        commits = history.commits(an.root, max_commits=limit)
    out_path = _plan_file(output, an)
    source = Path(os.path.relpath(an.root, out_path.resolve().parent)).as_posix()
    constraints = Constraints(
        services=services if services is not None else opts.services,
        pins=dict(opts.pin),
        together=[list(g) for g in opts.together],
        shared=list(opts.shared),
        auto_shared=opts.auto_shared,
        min_shared_users=opts.min_shared_users,
        origin=f"{an.config.path} [tool.decompose.plan]" if an.config.path else "[tool.decompose.plan]",
    )
    routes, app_modules = _framework_inputs(an)
    try:
        proposal = propose(
            an.facts,
            an.graph,
            project=_project_name(an.root),
            source=source,
            weights=w,
            commits=commits,
            trace_calls=calls,
            constraints=constraints,
            seed=seed if seed is not None else (opts.seed if opts.seed is not None else 42),
            method=method or opts.method or "louvain",
            routes=routes,
            app_modules=app_modules,
        )
    except ConstraintError as exc:
        fail(str(exc))
    text = dumps_plan(proposal.plan)
    status = "written"
    if out_path.exists():
        try:
            current = out_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            current = None
        if current == text:
            status = "unchanged"
        elif not force:
            fail(
                f"{out_path}: already exists and differs from this proposal (edited?); "
                "use --force to overwrite it, or `decompose plan --check` to validate it"
            )
    if status == "written":
        try:
            atomic_write(out_path, text, force=True)
        except (RefusedOverwrite, OSError) as exc:
            fail(str(exc))
    if format is PlanFormat.json:
        sys.stdout.write(json.dumps(proposal.plan.to_dict(), indent=2, sort_keys=True) + "\n")
    else:
        _print_plan(proposal.plan, proposal.notes, out_path, status)
        _print_replica_notes(_replica_state(proposal.plan, an.facts))
    from decompose.cli.console import err

    for s in an.skipped:
        err.print(f"[yellow]skipped[/yellow] {escape(s.path)}: {escape(s.reason)}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_OK)


def _check(path: Optional[Path], plan_path: Optional[Path], format: PlanFormat, quiet: bool, no_cache: bool) -> None:
    from decompose.planning.plan import PlanError, validate_against_modules
    from decompose.planning.planfile import load_plan
    from decompose.planning.propose import describe
    from decompose.planning.signals import combine, data_signal, static_signal, table_access

    plan_file = plan_path or DEFAULT_PLAN
    try:
        plan = load_plan(plan_file)
    except PlanError as exc:
        fail_lines([*exc.problems, *_module_problems_of_broken_plan(Path(plan_file), path, quiet, no_cache)])
    src = path if path is not None else (Path(plan_file).parent / plan.source)
    an = _analyze(src, quiet, no_cache)
    problems = validate_against_modules(plan, {f.module for f in an.facts}, str(plan_file))
    if problems:
        fail_lines(problems)
    access = table_access(an.facts, an.graph)
    coupling = combine(
        [f.module for f in an.facts],
        {"static": static_signal(an.graph), "data": data_signal(access)},
        {"static": 1.0, "data": 1.0},
    )
    assignment = {m: s for m, s in plan.service_of().items() if s}
    measured = describe(assignment, plan.shared, an.facts, an.graph, project=plan.project, coupling=coupling, access=access,
                        framework_routes=_framework_routes(an))
    figures = {k: measured.quality[k] for k in ("modularity", "structural_modularity", "icp", "ifn", "ned")}
    summary = {
        "plan": str(plan_file),
        "valid": True,
        "services": len(plan.services),
        "modules": len(assignment),
        "shared": len(plan.shared),
        "quality": figures,
        "blockers": measured.quality["blockers"],
        "blocker_details": measured.blockers,
        "replica_state": _replica_state(plan, an.facts),
    }
    if format is PlanFormat.json:
        sys.stdout.write(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    else:
        from decompose.cli.console import out

        out.print(
            f"[green]ok[/green] {plan_file}: valid plan, {summary['services']} services, "
            f"{summary['modules']} modules, {summary['shared']} shared "
            f"(Q {figures['modularity']}, SM {figures['structural_modularity']}, ICP {figures['icp']}, "
            f"IFN {figures['ifn']}, NED {figures['ned']}; static+data signals)",
            highlight=False,
            soft_wrap=True,
        )
        # blockers do not make a plan invalid, but calls passing live objects across
        # services make `decompose generate` refuse it: show them where the user looks
        _print_blockers(measured.blockers, measured.quality["blockers"])
        _print_replica_notes(summary["replica_state"])
    raise typer.Exit(EXIT_OK)


def _replica_state(plan, facts) -> list[dict]:
    """Module-level state of the plan's services with more than one replica (own modules and shared ones)."""
    from decompose.planning.replica_state import findings

    return findings({n: [*s.modules, *plan.shared] for n, s in plan.services.items()},
                    {n: s.replica_count for n, s in plan.services.items()}, facts)


def _print_replica_notes(state: list[dict]) -> None:
    from decompose.cli.console import err
    from decompose.planning.replica_state import notes

    for n in notes(state):
        err.print(f"[yellow]note[/yellow] {escape(n)}", highlight=False, soft_wrap=True)


def _module_problems_of_broken_plan(plan_file: Path, path: Optional[Path], quiet: bool, no_cache: bool) -> list[str]:
    """Unknown/unplaced modules of a plan that failed structural validation, so that
    one `plan --check` run lists every problem.  Nothing if the file is not YAML."""
    from decompose.analysis.pipeline import AnalysisError, analyze
    from decompose.config import ConfigError
    from decompose.planning.plan import PlanError, lenient_placement, placement_problems
    from decompose.planning.planfile import load_yaml, read_yaml_text

    try:  # duplicate keys allowed here; the loader's limits are not lifted
        data = load_yaml(read_yaml_text(plan_file), str(plan_file), strict=False)
    except PlanError:
        return []
    placed, source = lenient_placement(data)
    src = path if path is not None else (plan_file.parent / source if source is not None else None)
    if src is None or not placed:
        return []
    try:
        an = analyze(src, use_cache=not no_cache)
    except (AnalysisError, ConfigError, FileNotFoundError, ValueError):
        return []
    return placement_problems(placed, {f.module for f in an.facts}, str(plan_file))


def _short(module: str) -> str:
    """Drop the top-level package in tables: every module shares it."""
    return module.partition(".")[2] or module


def _print_plan(plan, notes: list[str], out_path: Path, status: str) -> None:
    from rich.table import Table

    from decompose.cli.console import out

    st = Table(title=f"Proposed services ({out_path}: {status})", title_justify="left")
    for col, kw in (("service", {}), ("modules", {"justify": "right"}), ("interface", {"justify": "right"}), ("tables", {}), ("routes", {"justify": "right"}), ("members", {})):
        st.add_column(col, **kw)
    for name, s in sorted(plan.services.items()):
        members = ", ".join(_short(m) for m in sorted(s.modules))
        st.add_row(name, str(len(s.modules)), str(len(s.interface)), ", ".join(s.tables) or "-", str(len(s.routes)), members)
    st.add_row("(shared)", str(len(plan.shared)), "-", "-", "-", ", ".join(_short(m) for m in plan.shared) or "-")
    out.print(st)

    q = plan.quality
    qt = Table(title="Quality", title_justify="left", show_header=True)
    qt.add_column("figure")
    qt.add_column("value", justify="right")
    qt.add_column("meaning")
    qt.add_row("modularity Q", f"{q.get('modularity')}", "Newman modularity of the coupling graph; higher is better (0.3+ is clear structure)")
    qt.add_row("SM", f"{q.get('structural_modularity')}", "structural modularity: cohesion minus coupling; higher is better")
    qt.add_row("ICP", f"{q.get('icp')}", f"share of calls crossing services ({q.get('icp_source')}); lower is better")
    qt.add_row("IFN", f"{q.get('ifn')}", "mean interface size per service; lower is better")
    qt.add_row("NED", f"{q.get('ned')}", f"share of modules in services outside {q.get('ned_bounds')} modules; lower is better")
    out.print(qt)

    _print_blockers(plan.blockers, q["blockers"])
    for n in notes:
        out.print(f"[yellow]note:[/yellow] {escape(n)}", highlight=False)


def _framework_inputs(an) -> tuple[dict, list[str]]:
    """What the framework tells the proposal, each file read once: routes declared outside
    decorators (Django's urlconf) as plan route items per module, and the app module (copied
    into every service: the plan shares it)."""
    from decompose.frameworks import plan_inputs

    found, app_modules = plan_inputs({f.module: f for f in an.facts}, _reader(an))
    return _route_items(found), app_modules


def _framework_routes(an) -> dict:
    """Routes declared outside decorators (Django's urlconf), as plan route items per module."""
    from decompose.frameworks import declared_routes

    return _route_items(declared_routes({f.module: f for f in an.facts}, _reader(an)))


def _reader(an):
    """``read(path)`` of the analysed tree's files ("" when unreadable)."""

    def source(path: str) -> str:
        try:
            return (an.root / path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return ""

    return source


def _route_items(found: dict) -> dict:
    from decompose.planning.plan import RouteItem

    every = {"DELETE", "GET", "PATCH", "POST", "PUT"}  # a view taking any method: one "*" row
    return {m: [RouteItem(method=meth, path=r.path, function=r.function) for r in rs
                for meth in (["*"] if every <= set(r.methods) else r.methods)]
            for m, rs in found.items()}


def _print_blockers(blockers: list[dict], counts: dict) -> None:
    from rich.table import Table

    from decompose.cli.console import out

    if not blockers:
        return
    bt = Table(title=f"Blockers ({counts['errors']} errors, {counts['warnings']} warnings)", title_justify="left")
    for col in ("severity", "kind", "what", "details"):
        bt.add_column(col)
    for b in blockers:
        what = b.get("function") or b.get("state") or b.get("table") or b.get("module") or ""
        if b["kind"] in ("non-serializable-call", "unknown-serializability"):
            details = f"from {', '.join(b['called_from'])}: " + "; ".join(b["problems"])
        elif b["kind"] == "shared-table":
            details = f"used by {', '.join(b['used_by'])} (owner {b['owner']})"
        elif b["kind"] == "orm-relation":
            what = f"{b['model']}.{b['field']}"
            details = (f"{b['relation']} to {b['target']} (service {b['target_service']}) "
                       f"from service {b['service']}, {b['location']}")
        elif b["kind"] in ("cross-service-state", "shared-library-state"):
            details = f"{', '.join(b['how'])}; owner {b['owner']}, used by {', '.join(b['used_by'])}"
        elif b["kind"] == "import-cycle":
            details = f"imports {b['imports']} at {', '.join(b['at']) or '?'}: {b['note']}"
        else:
            details = f"uses {', '.join(b['services'])}: {', '.join(b['symbols'])} ({b['note']})"
        color = "red" if b["severity"] == "error" else "yellow"
        bt.add_row(f"[{color}]{b['severity']}[/{color}]", b["kind"], escape(what), escape(details))
    out.print(bt)


@app.command("evaluate")
def evaluate_cmd(
    reference: Annotated[Path, typer.Option("--reference", "-r", help="Reference decomposition (services: {name: {modules: [...]}}, shared: {modules: [...]}).")],
    plan_path: Annotated[Path, typer.Option("--plan", help="The plan to evaluate.")] = DEFAULT_PLAN,
    format: Annotated[PlanFormat, typer.Option("--format", "-f", help="Output format.")] = PlanFormat.table,
) -> None:
    """Compare a plan with a reference decomposition: MoJoFM and adjusted Rand index.

    The shared library counts as one more cluster on both sides; only modules
    present in both are compared.  Exit status 0, or 2 on bad input.
    """
    from decompose.planning import quality
    from decompose.planning.plan import PlanError
    from decompose.planning.planfile import load_plan
    from decompose.planning.reference import load_reference, plan_partition

    try:
        plan = load_plan(plan_path)
        ref = load_reference(reference)
    except PlanError as exc:
        fail_lines(exc.problems)
    ours = plan_partition(plan)
    common = sorted(set(ours) & set(ref))
    if not common:
        fail(f"{plan_path}: no module in common with {reference}")
    result = {
        "plan": str(plan_path),
        "reference": str(reference),
        "modules": len(common),
        "mojo": quality.mojo(ours, ref),
        "mojofm": round(quality.mojofm(ours, ref), 2),
        "ari": round(quality.adjusted_rand_index(ours, ref), 4),
        "only_in_plan": sorted(set(ours) - set(ref)),
        "only_in_reference": sorted(set(ref) - set(ours)),
    }
    if format is PlanFormat.json:
        sys.stdout.write(json.dumps(result, indent=2, sort_keys=True) + "\n")
    else:
        from rich.table import Table

        from decompose.cli.console import out

        t = Table(title=f"{plan_path} vs {reference}", title_justify="left")
        t.add_column("figure")
        t.add_column("value", justify="right")
        t.add_column("meaning")
        t.add_row("MoJoFM", f"{result['mojofm']:.2f}", "100 = same partition; % of the worst-case Move/Join distance saved")
        t.add_row("ARI", f"{result['ari']:.4f}", "adjusted Rand index: 1 = same, 0 = chance level")
        t.add_row("MoJo", str(result["mojo"]), "moves and joins turning the plan into the reference")
        t.add_row("modules compared", str(result["modules"]), "")
        out.print(t)
        for key in ("only_in_plan", "only_in_reference"):
            if result[key]:
                out.print(f"[yellow]{key.replace('_', ' ')}:[/yellow] {', '.join(result[key])}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_OK)


@app.command(
    "trace",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def trace_cmd(
    command: Annotated[list[str], typer.Argument(help="The command to run, after `--`, e.g. -- pytest tests/")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Trace file to write.")] = DEFAULT_TRACE,
    package: Annotated[list[str], typer.Option("--package", "-p", help="Package to record (repeatable; default: the packages found in --source).")] = [],
    source: Annotated[Path, typer.Option("--source", help="Project folder whose packages are recorded.")] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Overwrite --output if it exists.")] = False,
) -> None:
    """Run a Python command (e.g. the monolith's tests) recording calls between its modules.

    Exits with the command's own exit status (the trace is written either way),
    or 2 on bad input.
    """
    from decompose.cli.console import err
    from decompose.fsio import RefusedOverwrite, atomic_write
    from decompose.planning.trace import TraceError, dumps_trace, run_traced

    if output.exists() and not force:
        fail(f"{output}: already exists (use --force to overwrite)")
    packages = list(package)
    if not packages:
        from decompose.config import ConfigError, load_config
        from decompose.analysis.scan import scan

        try:
            root = source.resolve()
            cfg = load_config(root if root.is_dir() else root.parent)
            found = scan(root, exclude=cfg.exclude, source_roots=cfg.source_roots)
        except (ConfigError, FileNotFoundError, ValueError) as exc:
            fail(str(exc))
        packages = sorted({f.module.split(".", 1)[0] for f in found.files})
    try:
        run = run_traced(list(command), packages)
    except TraceError as exc:
        fail(str(exc))
    try:
        atomic_write(output, dumps_trace(run.document), force=True)
    except (RefusedOverwrite, OSError) as exc:
        fail(str(exc))
    n_edges = len(run.document["calls"])
    n_calls = sum(c["count"] for c in run.document["calls"])
    err.print(
        f"traced {n_calls} calls over {n_edges} caller/callee pairs in {run.processes} process(es) "
        f"of packages {', '.join(packages)} -> {output}; command exited with {run.returncode}",
        highlight=False,
        soft_wrap=True,
    )
    if run.lost:
        err.print(
            f"[yellow]warning:[/yellow] the calls of {run.lost} process(es) were lost (killed while writing their trace)",
            highlight=False,
        )
    raise typer.Exit(run.returncode)
