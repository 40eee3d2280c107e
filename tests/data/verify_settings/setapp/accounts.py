from fastapi import APIRouter, HTTPException

from setapp.news import headline
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
