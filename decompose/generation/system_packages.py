"""System programs and libraries a service's code needs that a slim Python image lacks (pure).

A monolith runs on a host where ``gpg``, ``git`` or ``libmagic`` were installed by hand; its
images start from ``python:X-slim``, which has none of them.  privacyIDEA's token import uses
python-gnupg, which runs the ``gpg`` binary: in the split system the service answered 502
(``OSError: Unable to run gpg``).  Here the code copied into a service is read for:

* programs it runs with a literal name: ``subprocess.run(["gpg", ...])`` (also ``call``,
  ``check_call``, ``check_output``, ``Popen``, imported bare or through the module),
  ``os.system("git ...")`` / ``os.popen``, ``os.exec*p("x", ...)``, ``shutil.which("x")``;
* Python wrappers around a program or a C library, by their import (python-gnupg's ``gnupg``,
  python-magic's ``magic``, ``pytesseract``, GitPython's ``git``...).

Each one known here maps to the Debian package holding it (:data:`PROGRAMS`, :data:`WRAPPERS`);
the Dockerfile installs them with apt.  A program not known here is not guessed at: the plan's
``system_packages`` of a service adds packages by hand.  Test code never counts.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

#: A program run by name -> the Debian package that has it (those of the slim image are absent).
PROGRAMS = {
    "gpg": "gnupg", "gpg2": "gnupg", "gpgconf": "gnupg", "git": "git", "curl": "curl", "wget": "wget",
    "openssl": "openssl", "ssh": "openssh-client", "scp": "openssh-client", "ssh-keygen": "openssh-client",
    "rsync": "rsync", "xmlsec1": "xmlsec1", "convert": "imagemagick", "magick": "imagemagick",
    "identify": "imagemagick", "ffmpeg": "ffmpeg", "ffprobe": "ffmpeg", "tesseract": "tesseract-ocr",
"pg_dump": "postgresql-client", "pg_restore": "postgresql-client",
    "psql": "postgresql-client", "mysqldump": "default-mysql-client", "mysql": "default-mysql-client",
    "zip": "zip", "unzip": "unzip", "file": "file", "pdftotext": "poppler-utils", "pdftoppm": "poppler-utils",
    "pdfinfo": "poppler-utils", "gs": "ghostscript", "lpr": "cups-client", "msgfmt": "gettext",
    "sqlite3": "sqlite3", "redis-cli": "redis-tools", "ldapsearch": "ldap-utils", "dot": "graphviz",
    "xz": "xz-utils", "bzip2": "bzip2", "jq": "jq", "nc": "netcat-openbsd", "ping": "iputils-ping",
    "dig": "dnsutils", "nslookup": "dnsutils", "host": "bind9-host", "whois": "whois",
}
#: An import of a wrapper -> (what it needs, the Debian package).
WRAPPERS = {
    "gnupg": ("gpg", "gnupg"),  # python-gnupg (and gnupg) run the gpg binary
    "magic": ("libmagic", "libmagic1"),  # python-magic loads libmagic with ctypes
    "pytesseract": ("tesseract", "tesseract-ocr"),
    "pydub": ("ffmpeg", "ffmpeg"),
    "pdf2image": ("pdftoppm", "poppler-utils"),
    "cairocffi": ("libcairo", "libcairo2"),
    "cairosvg": ("libcairo", "libcairo2"),
    "git": ("git", "git"),  # GitPython runs the git binary
}
_SUBPROCESS = {"run", "call", "check_call", "check_output", "Popen", "getoutput", "getstatusoutput"}
_OS_SHELL = {"system", "popen"}
_OS_EXEC = {"execlp", "execlpe", "execvp", "execvpe", "spawnlp", "spawnlpe", "spawnvp", "spawnvpe"}


@dataclass(frozen=True)
class Need:
    """One system package a module needs, and why (``runs gpg``, ``imports gnupg``)."""

    module: str
    line: int
    package: str
    why: str


def _program(node: ast.expr) -> str | None:
    """The program of a command: the first item of a literal list/tuple, or the first word of a string."""
    if isinstance(node, (ast.List, ast.Tuple)) and node.elts:
        node = node.elts[0]
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value.rsplit("/", 1)[-1] or None
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        words = node.value.split()
        return words[0].rsplit("/", 1)[-1] if words else None
    return None


def _called(call: ast.Call, bare: dict[str, tuple[str, str]]) -> tuple[str, str] | None:
    """(module, function) of a call to subprocess/os/shutil: ``subprocess.run`` or a name imported bare."""
    f = call.func
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
        return f.value.id, f.attr
    if isinstance(f, ast.Name) and f.id in bare:
        return bare[f.id]
    return None


def needs_of(module: str, text: str, local: frozenset[str] = frozenset()) -> list[Need]:
    """The system packages ``text`` (module ``module``) needs, in line order (``local``: the monolith's
    own top-level names, never a wrapper's)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []  # reported by the analysis already
    bare: dict[str, tuple[str, str]] = {}
    out: list[Need] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("subprocess", "os", "shutil") and not node.level:
            bare.update({a.asname or a.name: (node.module, a.name) for a in node.names})
        elif isinstance(node, ast.Import):
            for a in node.names:
                top = a.name.split(".")[0]
                if top in WRAPPERS and top not in local:
                    what, package = WRAPPERS[top]
                    out.append(Need(module, node.lineno, package, f"imports {top} (needs {what})"))
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            top = node.module.split(".")[0]
            if top in WRAPPERS and top not in local:
                what, package = WRAPPERS[top]
                out.append(Need(module, node.lineno, package, f"imports {top} (needs {what})"))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        called = _called(node, bare)
        if called is None:
            continue
        mod, func = called
        program = None
        if mod == "subprocess" and func in _SUBPROCESS or mod == "os" and func in _OS_SHELL | _OS_EXEC:
            first = node.args[1] if func.startswith("spawn") and len(node.args) > 1 else node.args[0]
            program = _program(first)
        elif mod == "shutil" and func == "which":
            program = _program(node.args[0])
        if program in PROGRAMS:
            out.append(Need(module, node.lineno, PROGRAMS[program], f"runs {program}"))
    return sorted(set(out), key=lambda n: (n.line, n.package, n.why))


def service_packages(modules: list[str], sources: dict[str, str], is_test=lambda m: False) -> list[Need]:
    """What the production modules of one service's tree need (``modules``: those copied into it)."""
    local = frozenset(m.split(".")[0] for m in sources)
    needs: list[Need] = []
    for m in sorted(set(modules)):
        if m in sources and not is_test(m):
            needs.extend(needs_of(m, sources[m], local))
    return needs
