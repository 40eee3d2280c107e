"""A call to a peer that is still starting, made while the caller starts (issue 10).

LNbits' app lifespan runs ``migrate_databases()`` (``lnbits.core.helpers``, service extensions)
in every service; under ``up --local`` on a loaded host the extensions service took 42 s to
listen, the caller's refused connections were retried 20 times (about 33 s) and its startup
failed (``ConnectError``).  While the calling process is young (``DECOMPOSE_RPC_STARTUP_WAIT``
seconds, default 120: ``up``'s own wait) a refused connection is retried until then.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from typer.testing import CliRunner

from decompose.cli import app
from decompose.planning.plan import Plan, Service
from decompose.planning.planfile import save_plan
from decompose.runtime.runner import free_port
from tests.test_type_aliases import DESK

# a peer that starts listening 3 s after the caller started, then answers every call
CALLER = textwrap.dedent('''
    import json, socket, sys, threading, time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from decompose_rt import rpc

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["content-length"]))
            body = json.dumps({"result": 7}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    def serve_later():
        time.sleep(3)
        ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()

    threading.Thread(target=serve_later, daemon=True).start()

    async def in_loop():
        # a sync call on the event loop's thread never waits past the retries (it would stall the
        # loop, this service's own startup); an async one (a worker thread) waits like any thread
        try:
            first = rpc.call("models", "desk.models.count", (), {"field": "tag"})
        except Exception as exc:
            first = type(exc).__name__
        try:
            second = await rpc.acall("models", "desk.models.count", (), {"field": "tag"})
        except Exception as exc:
            second = type(exc).__name__
        return first, second

    import asyncio
    print(*asyncio.run(in_loop()))
''')


def test_a_young_process_waits_for_a_peer_still_starting(tmp_path: Path):
    root = tmp_path / "mono"
    for rel, text in DESK.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip("\n"))
    plan = Plan(project="desk", source=str(root),
                services={"models": Service(name="models", modules=["desk.models"]),
                          "api": Service(name="api", modules=["desk.api"])},
                shared=["desk", "desk.main"])
    save_plan(plan, tmp_path / "decompose.yaml")
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["generate", "--plan", str(tmp_path / "decompose.yaml"), "--output", str(out)])
    assert r.exit_code == 0, r.output
    src = out / "services" / "api" / "app"
    (tmp_path / "caller.py").write_text(CALLER)
    results = []
    for wait in ("30", "0"):
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("DECOMPOSE_") and k != "PYTHONPATH"}
        env.update(PYTHONPATH=str(src), DECOMPOSE_RPC_SECRET="s" * 32, DECOMPOSE_MODELS_URL=f"http://127.0.0.1:{port}",
                   DECOMPOSE_RPC_CONNECT_RETRIES="1", DECOMPOSE_RPC_STARTUP_WAIT=wait)
        done = subprocess.run([sys.executable, str(tmp_path / "caller.py"), str(port)], cwd=src, env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr[-2000:]
        results.append(done.stdout.split()[-2:])
    # waited for the peer while young (not on the loop's thread); with no startup wait, the one
    # retry was all it got
    assert results == [["ConnectError", "7"], ["ConnectError", "ConnectError"]]
