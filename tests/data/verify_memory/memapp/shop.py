from fastapi import APIRouter

from memapp.cache import cache

router = APIRouter(prefix="/shop")


@router.get("/items")
def items():
    return [{"id": 1, "name": "book"}]


@router.get("/last-login")
def last_login():
    return {"user": cache.get("last-login")}
