import threading
import time

from fastapi import APIRouter, HTTPException

from memapp.cache import cache

router = APIRouter(prefix="/auth")
PASSWORDS = {"alan": "secret", "bob": "hunter2"}
LIMIT = 3
restart = threading.Event()  # the server loop restarts when it is set (LNbits' lnbits.server.server_restart)


def throttle_key(user: str) -> str:
    return f"login-failures:{user}"


@router.post("/login")
def login(user: str, password: str):
    key = throttle_key(user)
    state = cache.get(key) or {"failures": 0, "blocked_until": 0.0}
    if state["blocked_until"] > time.time():
        raise HTTPException(429, "Too many login attempts")
    if PASSWORDS.get(user) != password:
        state["failures"] += 1
        if state["failures"] >= LIMIT:
            state["blocked_until"] = time.time() + 120
        cache.set(key, state, expiry=600)
        raise HTTPException(401, "Invalid credentials")
    cache.pop(key)
    cache.set("last-login", user)  # read by the shop: the same object on the monolith only
    return {"user": user}


@router.post("/restart")
def ask_restart():
    restart.set()
    return {"restarting": True}
