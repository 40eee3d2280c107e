"""Faults: bounded load through the gateway while one replica of each service is killed in turn.

Run against a split system deployed with replicas (``decompose up --swarm OUT``):

    python benchmarks/faults.py OUT --url http://127.0.0.1:8080 [--seconds 60] [--workers 8]

Traffic goes only to the given loopback URL, bounded in count (``--max-requests``)
and time (``--seconds``); the request budget is spread over the whole window
(each worker waits out its share of it), so a fast system does not spend it
before the last kill.  The load is the sample monolith's API: reads (GET of
list and detail pages) and writes (POST of a new customer, each with a unique
e-mail).  While it runs, every ``--interval`` seconds one running task container
of the next service is killed (``docker kill``; the swarm starts a replacement).
Afterwards every acknowledged write (a 2xx answer with the new id) is read back.

Printed: requests sent, failed (by kind: idempotent / not), p50/p99 latency,
kills, acknowledged writes and how many of them are readable afterwards.
``--format json`` prints the same figures as JSON.  Exit status 1 when an
idempotent request failed or an acknowledged write is lost.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx

READS = ["/api/catalog/categories", "/api/catalog/products", "/api/customers", "/api/orders",
         "/api/inventory/low-stock", "/api/notifications", "/api/payments/methods"]
LOOPBACK = ("http://127.0.0.1:", "http://localhost:")


def run(out: Path, url: str, seconds: float, workers: int, interval: float, max_requests: int,
        seed: int = 7) -> dict:
    import docker

    from decompose.runtime.docker_build import LABEL_PROJECT, LABEL_ROLE, LABEL_SERVICE, load_manifest

    if not url.startswith(LOOPBACK):
        raise SystemExit(f"--url {url}: load goes to loopback only")
    m = load_manifest(out)
    client = docker.from_env()
    services = [u.name for u in m.services]
    rng = random.Random(seed)
    lock = threading.Lock()
    results: list[tuple[str, bool, float, int]] = []  # method, ok, seconds, status
    acked: list[tuple[int, str]] = []
    stop = threading.Event()
    sent = [0]

    gap = workers * seconds / max_requests if max_requests else 0.0  # seconds between one worker's requests

    def worker(n: int) -> None:
        local = random.Random(seed + n)
        with httpx.Client(base_url=url, timeout=30) as http:
            while not stop.is_set():
                t_next = time.monotonic() + gap
                with lock:
                    if sent[0] >= max_requests:
                        return
                    sent[0] += 1
                write = local.random() < 0.2
                t0 = time.monotonic()
                status = 0
                try:
                    if write:
                        email = f"fault-{uuid.uuid4().hex[:12]}@example.com"
                        r = http.post("/api/customers", json={"email": email, "full_name": "Fault Test"})
                        status = r.status_code
                        if 200 <= status < 300:
                            with lock:
                                acked.append((r.json()["id"], email))
                    else:
                        r = http.get(local.choice(READS))
                        status = r.status_code
                except httpx.HTTPError:
                    status = 0
                ok = 200 <= status < 300
                with lock:
                    results.append(("POST" if write else "GET", ok, time.monotonic() - t0, status))
                stop.wait(max(0.0, t_next - time.monotonic()))

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(workers)]
    t_start = time.monotonic()
    for t in threads:
        t.start()
    kills: list[dict] = []
    deadline = t_start + seconds
    i = 0
    while time.monotonic() < deadline and any(t.is_alive() for t in threads):
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
        if time.monotonic() >= deadline:
            break
        name = services[i % len(services)]
        i += 1
        tasks = client.containers.list(filters={"label": [f"{LABEL_PROJECT}={m.project}", f"{LABEL_SERVICE}={name}"],
                                                "status": "running"})
        tasks = [c for c in tasks if (c.labels or {}).get(LABEL_ROLE) != "gateway"]
        if len(tasks) < 2:
            kills.append({"service": name, "killed": None, "at": round(time.monotonic() - t_start, 1),
                          "why": f"{len(tasks)} running task(s): not killing the last one"})
            continue
        victim = rng.choice(sorted(tasks, key=lambda c: c.name))
        victim.kill()
        kills.append({"service": name, "killed": victim.name, "at": round(time.monotonic() - t_start, 1)})
    stop.set()
    for t in threads:
        t.join(timeout=60)
    elapsed = time.monotonic() - t_start

    readable = 0
    missing: list[int] = []
    with httpx.Client(base_url=url, timeout=30) as http:
        for cid, email in acked:
            for _ in range(3):
                try:
                    r = http.get(f"/api/customers/{cid}")
                    if r.status_code == 200 and r.json().get("email") == email:
                        readable += 1
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.5)
            else:
                missing.append(cid)
    lat = sorted(s for _, _, s, _ in results)

    def pct(p: float) -> float:
        return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 1) if lat else 0.0

    failed_idem = [r for r in results if r[0] == "GET" and not r[1]]
    failed_writes = [r for r in results if r[0] == "POST" and not r[1]]
    return {
        "project": m.project,
        "seconds": round(elapsed, 1),
        "requests": len(results),
        "failed_idempotent": len(failed_idem),
        "failed_writes_unacknowledged": len(failed_writes),
        "failed_statuses": sorted({r[3] for r in failed_idem + failed_writes}),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "mean_ms": round(statistics.fmean(lat) * 1000, 1) if lat else 0.0,
        "kills": kills,
        "acknowledged_writes": len(acked),
        "readable_after": readable,
        "lost_writes": missing,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--interval", type=float, default=6)
    ap.add_argument("--max-requests", type=int, default=20000)
    ap.add_argument("--format", choices=("table", "json"), default="table")
    a = ap.parse_args(argv)
    fig = run(a.out, a.url, a.seconds, a.workers, a.interval, a.max_requests)
    if a.format == "json":
        print(json.dumps(fig, indent=2, sort_keys=True))
    else:
        print(f"{fig['requests']} requests in {fig['seconds']} s through {a.url}, "
              f"{sum(1 for k in fig['kills'] if k['killed'])} replica(s) killed")
        print(f"failed: {fig['failed_idempotent']} idempotent, {fig['failed_writes_unacknowledged']} writes "
              f"(unacknowledged) {fig['failed_statuses'] or ''}")
        print(f"latency: p50 {fig['p50_ms']} ms, p99 {fig['p99_ms']} ms")
        print(f"acknowledged writes: {fig['acknowledged_writes']}, readable afterwards: {fig['readable_after']}, "
              f"lost: {len(fig['lost_writes'])}")
        for k in fig["kills"]:
            print(f"  {k['at']:>6} s  {k['service']}: {k.get('killed') or k.get('why')}")
    return 1 if fig["failed_idempotent"] or fig["lost_writes"] else 0


if __name__ == "__main__":
    sys.exit(main())
