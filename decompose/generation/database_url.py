"""The monolith's database variable and the URL form it accepts (pure: source text in, names out).

``decompose generate`` gives every service its database URL in one environment
variable.  Which variable, and in which form, is read from the monolith here:

* **the variable** (:func:`detect_database_env`): a literal ``..._DATABASE_URL``
  (or ``_URI``) name the production code reads; else the environment name of a
  database-URL field of a pydantic ``BaseSettings`` class (the field name
  upper-cased after the class's literal ``env_prefix``, or the field's own
  ``env=``/``validation_alias=`` name: LNbits' ``lnbits_database_url`` is read
  from ``LNBITS_DATABASE_URL``); else ``DATABASE_URL`` composed with a literal
  f-string prefix (``f"SHOP_{name}"``); else ``DATABASE_URL``.  Test code and
  testing or development variables never count.
* **the schemes the app requires** (:func:`required_schemes`): a production
  ``if not url.startswith("postgres://"): raise ...`` refuses any other URL.
  LNbits takes ``postgres://`` only and swaps in its own asyncpg driver, so
  SQLAlchemy's ``postgresql+psycopg://`` would stop every service at import.
  The services' URLs then use the app's scheme (:func:`url_scheme`).  A check
  that only rewrites (Heroku's ``if url.startswith("postgres://"): url =
  url.replace(...)``) requires nothing.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from decompose.analysis.roles import is_non_production_name, is_test_module

#: SQLAlchemy's scheme with the driver decompose installs (decompose.generation.database).
DEFAULT_SCHEME = "postgresql+psycopg"
_DB_SCHEME = re.compile(r"^(postgres(?:ql)?(?:\+\w+)?|cockroachdb(?:\+\w+)?|mysql(?:\+\w+)?|mariadb(?:\+\w+)?|"
                        r"sqlite(?:\+\w+)?)$")
_POSTGRES = re.compile(r"^postgres(?:ql)?(?:\+\w+)?$")

_LITERAL = re.compile(r"""["']([A-Z][A-Z0-9_]*DATABASE_UR[LI])["']""")
_PREFIX = re.compile(r"""f["']([A-Z][A-Z0-9]*_)\{""")
#: ``name: type = default`` in a class body (pydantic fields), any case
_FIELD = re.compile(r"""^[ \t]+([A-Za-z_][A-Za-z0-9_]*)[ \t]*:[^=\n]*=(?!=)([^\n]*)""", re.MULTILINE)
_ENV_PREFIX = re.compile(r"""env_prefix\s*[=:]\s*["']([A-Za-z0-9_]*)["']""")
_FIELD_ENV = re.compile(r"""\b(?:env|validation_alias|alias)\s*=\s*["']([A-Za-z_][A-Za-z0-9_]*)["']""")
_URL_FIELD = re.compile(r"^(?:[A-Z0-9_]*_)?(?:DATABASE|DB)_(?:URL|URI|DSN)$")


def _production(sources: dict[str, str]) -> dict[str, str]:
    return {m: src for m, src in sources.items() if not is_test_module(m)}


def settings_url_fields(text: str) -> list[str]:
    """The environment names of the database-URL fields of pydantic settings in ``text``."""
    if "BaseSettings" not in text:
        return []
    prefix = next(iter(_ENV_PREFIX.findall(text)), "")
    out = set()
    for name, default in _FIELD.findall(text):
        own = _FIELD_ENV.search(default)
        env = (own.group(1) if own else prefix + name).upper()
        if _URL_FIELD.match(env) and not is_non_production_name(env):
            out.add(env)
    return sorted(out)


def _by_url_first(names) -> list[str]:
    return sorted(names, key=lambda f: (not f.endswith("_URL"), f))


def detect_database_env(sources: dict[str, str]) -> str:
    """The environment variable the monolith reads its database URL from (see the module)."""
    production = _production(sources)
    found = sorted({m for src in production.values() for m in _LITERAL.findall(src)
                    if not is_non_production_name(m)})
    full = [f for f in found if f not in ("DATABASE_URL", "DATABASE_URI")]
    if full:
        return _by_url_first(full)[0]
    fields = sorted({f for src in production.values() for f in settings_url_fields(src)})
    if fields:
        return _by_url_first(fields)[0]
    if found:
        prefixes = sorted({m for src in production.values() for m in _PREFIX.findall(src)})
        if len(prefixes) == 1:
            return prefixes[0] + "DATABASE_URL"
        return _by_url_first(found)[0]
    return "DATABASE_URL"


@dataclass(frozen=True)
class SchemeCheck:
    """A production check refusing database URLs of other schemes."""

    module: str
    line: int
    schemes: tuple[str, ...]  # what it lets through, e.g. ("postgres",)


def _schemes_of(node: ast.expr) -> tuple[str, ...]:
    values = node.elts if isinstance(node, ast.Tuple) else [node]
    out = []
    for v in values:
        if not (isinstance(v, ast.Constant) and isinstance(v.value, str) and v.value.endswith("://")):
            return ()
        scheme = v.value[:-3].lower()
        if not _DB_SCHEME.match(scheme):
            return ()
        out.append(scheme)
    return tuple(out)


def _refused_unless(test: ast.expr) -> tuple[str, ...]:
    """The schemes of ``not x.startswith("s://")`` (or a tuple of them), else ()."""
    if not (isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not)):
        return ()
    call = test.operand
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "startswith"
            and len(call.args) == 1):
        return ()
    return _schemes_of(call.args[0])


def required_schemes(sources: dict[str, str]) -> list[SchemeCheck]:
    """Every ``if not url.startswith("scheme://"): raise`` of the production code, in module order."""
    checks: list[SchemeCheck] = []
    for module in sorted(_production(sources)):
        text = sources[module]
        if ".startswith(" not in text or "://" not in text:
            continue
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            continue  # reported by the analysis already
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and any(isinstance(s, ast.Raise) for s in node.body):
                schemes = _refused_unless(node.test)
                if schemes:
                    checks.append(SchemeCheck(module, node.lineno, schemes))
    return checks


def url_scheme(schemes) -> str:
    """The scheme of the services' PostgreSQL URLs: SQLAlchemy's with psycopg unless the schemes the
    app's checks let through (``schemes``; none: any) hold only other PostgreSQL ones (then the first
    of those, as the app spells it)."""
    allowed = [s for s in schemes if _POSTGRES.match(s)]
    if not allowed or DEFAULT_SCHEME in allowed:
        return DEFAULT_SCHEME
    return allowed[0]


def engine_problems(engine: str, checks: list[SchemeCheck], database_env: str,
                    paths: dict[str, str] | None = None) -> list[str]:
    """Why the app's own checks refuse the URLs of ``engine`` (one line each; ``paths``: module -> file)."""
    if not checks:
        return []
    first = checks[0]
    where = f"{(paths or {}).get(first.module) or first.module}:{first.line}"
    accepted = ", ".join(f"{s}://" for s in sorted({s for c in checks for s in c.schemes}))
    if engine == "postgresql" and not any(_POSTGRES.match(s) for c in checks for s in c.schemes):
        return [f"{where}: the app refuses database URLs other than {accepted}, so its services cannot be "
                f"given a PostgreSQL URL in {database_env}; let that check accept postgresql:// or use "
                "--database sqlite"]
    if engine == "sqlite" and not accepts_sqlite([s for c in checks for s in c.schemes]):
        return [f"{where}: the app refuses database URLs other than {accepted}, so its services cannot be "
                f"given a SQLite URL in {database_env}; use --database postgresql (or auto)"]
    return []


def accepts_sqlite(schemes) -> bool:
    """Whether a ``sqlite:///`` URL gets past the app's checks letting ``schemes`` through (none: any)."""
    schemes = list(schemes)
    return not schemes or any(s.startswith("sqlite") for s in schemes)
