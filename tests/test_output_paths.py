"""An output path (``-o``, ``--cache-dir``) through a dangling symlink or a file is
one ``error:`` line naming it (exit 2), never a FileExistsError traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from decompose.cli import app

SAMPLE = Path(__file__).resolve().parent.parent / "sample_monolith"


def run(*args: str, cwd: Path | None = None):
    old = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        return CliRunner().invoke(app, list(args))
    finally:
        os.chdir(old)


@pytest.fixture(scope="module")
def plan_file(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("plan") / "decompose.yaml"
    r = run("plan", str(SAMPLE), "-o", str(out), "--no-history", "--no-cache", "-q")
    assert r.exit_code == 0, r.stderr
    return out


def one_error(r) -> str:
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert r.exit_code == 2, (r.exit_code, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    return lines[0]


COMMANDS = {
    "generate -o LINK": lambda link, plan: ["generate", "--plan", str(plan), "-o", str(link), "--no-cache"],
    "generate -o LINK/sub": lambda link, plan: ["generate", "--plan", str(plan), "-o", str(link / "sub"), "--no-cache"],
    "analyze -o LINK/a.json": lambda link, plan: ["analyze", str(SAMPLE), "-f", "json", "-o", str(link / "a.json"), "-q", "--no-cache"],
    "analyze --cache-dir LINK": lambda link, plan: ["analyze", str(SAMPLE), "-f", "json", "-q", "--cache-dir", str(link)],
    "plan -o LINK/p.yaml": lambda link, plan: ["plan", str(SAMPLE), "-o", str(link / "p.yaml"), "--no-history", "--no-cache", "-q"],
    "check -o LINK/c.json": lambda link, plan: ["check", "--path", str(SAMPLE), "--plan", str(plan), "-f", "json",
                                               "-o", str(link / "c.json"), "--cache-dir", str(link.parent / "cache")],
    "trace -o LINK/t.json": lambda link, plan: ["trace", "-o", str(link / "t.json"), "--package", "shop", "--",
                                               "python", "-c", "pass"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_dangling_symlink_as_output_folder_is_one_error_line(tmp_path, plan_file, command):
    link = tmp_path / "out"
    link.symlink_to(tmp_path / "gone")
    line = one_error(run(*COMMANDS[command](link, plan_file)))
    assert line == f"error: {link}: is a symlink to {tmp_path / 'gone'}, which does not exist" or (
        command.startswith("analyze --cache-dir") and line.startswith(f"error: {link}: is a symlink to ")
    ), line
    assert not (tmp_path / "gone").exists()


def test_a_file_in_the_way_of_the_output_folder(tmp_path, plan_file):
    (tmp_path / "f").write_text("x")
    line = one_error(run("generate", "--plan", str(plan_file), "-o", str(tmp_path / "f" / "out"), "--no-cache"))
    assert line == f"error: {tmp_path / 'f'}: exists and is not a folder"


def test_make_folder_and_atomic_write(tmp_path):
    from decompose.fsio import UnusablePath, atomic_write, make_folder

    link = tmp_path / "l"
    link.symlink_to("nowhere")
    with pytest.raises(UnusablePath, match="is a symlink to nowhere, which does not exist"):
        make_folder(link / "a" / "b")
    with pytest.raises(OSError):  # still an OSError for callers that fall back on one
        atomic_write(link / "x.txt", "x")
    make_folder(tmp_path / "ok" / "deep")  # ordinary folders still work
    atomic_write(tmp_path / "ok" / "deep" / "f.txt", "hi")
    assert (tmp_path / "ok" / "deep" / "f.txt").read_text() == "hi"
