from fastapi import APIRouter

from setapp.settings import settings

router = APIRouter(prefix="/news")


def headline() -> str:
    return settings.motd.upper()


@router.get("/motd")
def motd():
    return {"motd": settings.motd}
