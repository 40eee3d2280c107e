"""A call to a peer that is still starting, made while the caller starts (issue 10).

LNbits' app lifespan runs ``migrate_databases()`` (``lnbits.core.helpers``, service extensions)
in every service; under ``up --local`` on a loaded host the extensions service took 42 s to
listen, the caller's refused connections were retried 20 times (about 33 s) and its startup
failed (``ConnectError``).  While the calling process is young (``DECOMPOSE_RPC_STARTUP_WAIT``
seconds, default 120: ``up``'s own wait) a refused connection is retried until then.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


from decompose.runtime.runner import free_port
from tests.generate_support import child_env, generate_fixture
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
    out, manifest = generate_fixture(tmp_path, DESK, {"models": ["desk.models"], "api": ["desk.api"]},
                                     ["desk", "desk.main"])
    src = out / "services" / "api" / "app"
    (tmp_path / "caller.py").write_text(CALLER)
    results = []
    for wait in ("30", "0"):
        port = free_port()
        env = child_env(src, DECOMPOSE_RPC_SECRET="s" * 32, DECOMPOSE_MODELS_URL=f"http://127.0.0.1:{port}",
                   DECOMPOSE_RPC_CONNECT_RETRIES="1", DECOMPOSE_RPC_STARTUP_WAIT=wait)
        done = subprocess.run([sys.executable, str(tmp_path / "caller.py"), str(port)], cwd=src, env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr[-2000:]
        results.append(done.stdout.split()[-2:])
    # waited for the peer while young (not on the loop's thread); with no startup wait, the one
    # retry was all it got
    assert results == [["ConnectError", "7"], ["ConnectError", "ConnectError"]]
