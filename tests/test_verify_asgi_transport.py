"""``httpx.AsyncClient(transport=httpx.ASGITransport(app))`` goes to the gateway under verify (issue 10).

LNbits' API suite drives its FastAPI app only through such a client (tests/conftest.py).  Under
``decompose verify`` the transport answered in the test process, so the split run's 270 passes
were all "in-process only": the gateway saw not one request.  Now the transport of the app's own
ASGI app sends each request to the gateway (its cookies and redirects kept by the client, as a
``TestClient``'s), also through a function wrapping it (asgi-lifespan's ``LifespanManager.app``);
another app's stays in process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

CLIENT = textwrap.dedent('''
    import asyncio, json, os, threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Gateway(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(303)
            self.send_header("Location", "/done?sent=" + body.decode())
            self.send_header("Set-Cookie", "session=abc; Path=/")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self):
            data = json.dumps({"path": self.path, "cookie": self.headers.get("Cookie")}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    os.environ.update(DECOMPOSE_VERIFY_MODE="split", DECOMPOSE_VERIFY_URL=f"http://127.0.0.1:{server.server_port}",
                      DECOMPOSE_VERIFY_PACKAGES="desk")
    import desk  # the app's package: its endpoints make it the app
    import decompose.runtime.verify_plugin  # noqa: F401 - what pytest -p loads under verify
    from fastapi import FastAPI
    from httpx import ASGITransport, AsyncClient

    other = FastAPI()
    other.get("/{path:path}")(lambda path: "in process")

    def with_state(app):  # asgi-lifespan's LifespanManager.app, which LNbits' suite sends to
        async def app_with_state(scope, receive, send):
            scope["state"] = {}
            await app(scope, receive, send)
        return app_with_state

    async def main():
        async with AsyncClient(transport=ASGITransport(app=with_state(desk.app)), base_url="http://lnbits") as client:
            first = await client.post("/login", content=b"u=x", follow_redirects=True)
        async with AsyncClient(transport=ASGITransport(app=other), base_url="http://x") as client:
            second = await client.get("/anything")
        return {"status": first.status_code, "json": first.json(), "history": [r.status_code for r in first.history],
                "other": second.json()}

    print(json.dumps(asyncio.run(main())))
''')


def test_an_asgi_transport_of_the_app_goes_to_the_gateway(tmp_path: Path):
    pytest.importorskip("fastapi")
    (tmp_path / "desk").mkdir()
    (tmp_path / "desk" / "__init__.py").write_text(textwrap.dedent('''
        from fastapi import FastAPI

        app = FastAPI()


        @app.get("/{path:path}")
        def anything(path: str):
            return "in process"
    '''))
    (tmp_path / "client.py").write_text(CLIENT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DECOMPOSE_")}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[1]), str(tmp_path)])
    proc = subprocess.run([sys.executable, str(tmp_path / "client.py")], capture_output=True, text=True, env=env,
                          timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.splitlines()[-1]) == {
        "status": 200, "history": [303], "other": "in process",
        "json": {"path": "/done?sent=u=x", "cookie": "session=abc"},
    }
