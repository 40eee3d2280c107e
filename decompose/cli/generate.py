"""``decompose generate``: the plan -> runnable services, images, manifests (CLI wiring only)."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from decompose.cli.common import EXIT_OK, app, fail, fail_lines


class GenerateFormat(str, Enum):
    table = "table"
    json = "json"


class DatabaseChoice(str, Enum):
    auto = "auto"
    postgresql = "postgresql"
    sqlite = "sqlite"


@app.command("generate")
def generate_cmd(
    plan: Annotated[Path, typer.Option("--plan", "-p", help="The plan to generate (decompose.yaml).")] = Path("decompose.yaml"),
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder to write the services, manifests and guide into.")] = Path("out"),
    base_image: Annotated[Optional[str], typer.Option("--base-image", help="Base image of every Dockerfile (default: the lowest python:3.X-slim meeting the monolith's requires-python, .python-version or runtime.txt; python:3.11-slim when it declares none).")] = None,
    templates: Annotated[Optional[Path], typer.Option("--templates", help="Folder of templates overriding the built-in ones (same relative names).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite files that already exist in --output.")] = False,
    format: Annotated[GenerateFormat, typer.Option("--format", "-f", help="Summary format on stdout.")] = GenerateFormat.table,
    database_env: Annotated[Optional[str], typer.Option("--database-env", help="Variable the monolith reads its database URL from (default: detected).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Parse every file, ignore the facts cache.")] = False,
    database: Annotated[DatabaseChoice, typer.Option("--database", help="The split system's database: one PostgreSQL server (a database per service), SQLite files, or auto (PostgreSQL when the monolith uses SQLAlchemy).")] = DatabaseChoice.auto,
    postgres_image: Annotated[str, typer.Option("--postgres-image", help="Image of the PostgreSQL server.")] = "postgres:15",
) -> None:
    """Write one runnable service per plan service (source, HTTP clients and server,
    Dockerfile), a gateway, Kubernetes manifests (kustomize base + dev/prod
    overlays), compose.yaml, MIGRATION.md and decompose-output.json.

    Nothing is written if any target file exists, unless --force.  Exit status:
    0 written; 2 bad input (plan, templates, existing files, unsafe names).
    """
    from decompose.analysis.pipeline import AnalysisError
    from decompose.config import ConfigError
    from decompose.fsio import RefusedOverwrite
    from decompose.generation.generate import GenerateError
    from decompose.generation.output import generation_for, render_outputs, write_outputs
    from decompose.generation.manifests import MANIFEST_NAME, output_manifest
    from decompose.fsio import unusable_folder
    from decompose.planning.plan import PlanError

    blocked = unusable_folder(output)  # before any work: a dangling symlink as -o, a file on the way
    if blocked:
        fail(blocked)
    try:
        gen, root, facts, sources = generation_for(
            plan, base_image=base_image, database_env=database_env, use_cache=not no_cache,
            database=database.value, database_image=postgres_image,
        )
        outputs = render_outputs(gen, facts, sources, root=root, templates=templates)
        written = write_outputs(output, outputs.files, force=force)
    except PlanError as exc:
        fail_lines(exc.problems)
    except GenerateError as exc:
        fail_lines([f"cannot generate: {p}" for p in exc.problems])
    except RefusedOverwrite as exc:
        fail(str(exc))
    except (AnalysisError, ConfigError, FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{exc.filename or output}: cannot write: {exc.strerror or exc}")

    idle = [n for n in sorted(gen.services) if gen.services[n].idle]
    if idle:
        from decompose.cli.console import err

        for name in idle:
            err.print(f"[yellow]warning:[/yellow] service {escape(name)} owns no public routes and no interface "
                      "functions: nothing can reach it (give it routes or callers in the plan, or merge its modules "
                      "into another service)", highlight=False, soft_wrap=True)

    if format is GenerateFormat.json:
        summary = {
            "output": str(output),
            "files": len(written),
            "manifest": str(output / MANIFEST_NAME),
            "rewritten_imports": [
                {"module": c.module, "line": c.line, "before": c.before, "after": c.after} for c in outputs.changes
            ],
            **output_manifest(gen),
        }
        if outputs.notes:
            summary["notes"] = sorted({*summary["notes"], *outputs.notes})
        sys.stdout.write(json.dumps(summary, indent=2, sort_keys=True) + "\n")
        raise typer.Exit(EXIT_OK)

    from rich.table import Table

    from decompose.cli.console import err, out

    table = Table(title=f"{gen.project} {gen.version}: {len(gen.services)} services + gateway -> {output}")
    for col in ("service", "modules", "borrowed", "calls", "interface", "routes", "database"):
        table.add_column(col, justify="right" if col in ("modules", "borrowed", "interface", "routes") else "left")
    for name in sorted(gen.services):
        s = gen.services[name]
        table.add_row(
            name, str(len(s.modules)), str(len(s.borrowed)), ", ".join(s.calls) or "-", str(len(s.exports)),
            str(len(s.routes)), s.database,
        )
    out.print(table)
    out.print(
        f"{len(written)} files; {len(outputs.changes)} imports rewritten to HTTP clients; "
        f"shared tables: {', '.join(gen.shared_tables) or 'none'}; database variable {gen.database_env}; "
        f"database: {'PostgreSQL (' + gen.database_image + ')' if gen.database_engine == 'postgresql' else 'SQLite files'}",
        highlight=False,
    )
    out.print(f"base image {gen.base_image} (Python {gen.python}"
              + (f"; the monolith requires {gen.python_requires})" if gen.python_requires else ")"), highlight=False)
    for note in [*gen.notes, *outputs.notes]:
        err.print(f"[yellow]note[/yellow] {escape(note)}", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_OK)
