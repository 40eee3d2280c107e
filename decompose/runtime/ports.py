"""Ports on loopback for the units of ``up --local`` and the gateway (adapter: sockets)."""

from __future__ import annotations

import random
import socket
from pathlib import Path

#: The lowest port :func:`free_port` hands out.  It picks below the kernel's ephemeral range:
#: outgoing connections take their source ports from that range, so a port the kernel picked
#: there could be taken by one (an RPC call, a database connection, a readiness probe of the
#: two dozen units starting at once) before the unit binds it (privacyIDEA's smsgateway:
#: "Connection in use", exit 1).
LISTEN_PORTS_FROM = 20000
_handed: set[int] = set()


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port to listen on that is free now, outside the ephemeral range when there is room
    below it, and not handed out before by this process (two units never get the same one)."""
    high = _ephemeral_low() - 1
    if high - LISTEN_PORTS_FROM >= 1000:
        for _ in range(100):
            port = random.randint(LISTEN_PORTS_FROM, high)
            if port not in _handed and _bindable(host, port):
                _handed.add(port)
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0
