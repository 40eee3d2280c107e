from fastapi import APIRouter, Request

from setapp.settings import settings

router = APIRouter(prefix="/news")


def headline() -> str:
    return settings.motd.upper()


def announce(text: str) -> str:
    settings.motd = text  # the app changes its own settings (an admin saving them)
    return settings.motd


@router.get("/motd")
def motd():
    return {"motd": settings.motd}


@router.put("/motd")
def set_motd(text: str):
    return {"motd": announce(text)}


@router.get("/client")
def client(request: Request):
    return {"host": request.client.host if request.client else None}
