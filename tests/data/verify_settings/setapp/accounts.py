from fastapi import APIRouter, HTTPException

from setapp.news import announce, headline
from setapp.settings import Method, settings

router = APIRouter(prefix="/accounts")


@router.post("/signup")
def signup(name: str):
    if not settings.allow_signup:
        raise HTTPException(403, "signup is closed")
    return {"name": name, "admin": name in settings.admins, "welcome": headline()}


@router.post("/login")
def login(method: str):
    if Method(method) not in settings.methods:  # an enum the JSON must come back as
        raise HTTPException(403, f"login by {method} is not allowed")
    return {"ok": True}


@router.get("/motd")
def own_motd():
    return {"motd": settings.motd}


@router.post("/announce")
def post_announce(text: str):
    return {"motd": announce(text)}  # split: an RPC to news, which changes the setting there
