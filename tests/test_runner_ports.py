"""The ports ``up --local`` gives its units (issue 10).

privacyIDEA's 25 units start at once, each making connections (RPC calls, the shared database,
readiness probes).  Ports the kernel picked for the units came from the ephemeral range, where
those connections take their source ports: verify's second start of the system lost its
smsgateway unit to "Connection in use" (gunicorn gave up after 5 tries, exit 1).
"""

from __future__ import annotations

import socket

from decompose.runtime import ports


def test_unit_ports_are_free_distinct_and_below_the_ephemeral_range():
    low = ports._ephemeral_low()
    handed = [ports.free_port() for _ in range(200)]
    assert len(set(handed)) == len(handed)  # never the same port twice in one process
    assert all(ports.LISTEN_PORTS_FROM <= p < low for p in handed), (low, sorted(handed)[:5], sorted(handed)[-5:])
    for p in handed[:20]:
        with socket.socket() as s:
            s.bind(("127.0.0.1", p))  # free to listen on


def test_a_port_in_use_is_never_handed_out(monkeypatch):
    """In a window of 1,000 ports with 900 held by listeners, every port handed out is a free one."""
    base = 23000
    monkeypatch.setattr(ports, "LISTEN_PORTS_FROM", base)
    monkeypatch.setattr(ports, "_ephemeral_low", lambda: base + 1001)
    held, taken = set(), []
    try:
        for port in range(base, base + 1001):
            if len(held) == 900:
                break
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                s.close()
                continue
            s.listen()
            taken.append(s)
            held.add(port)
        got = [ports.free_port() for _ in range(30)]
        assert not held & set(got)
        assert len(set(got)) == len(got)
    finally:
        for s in taken:
            s.close()
