from fastapi import APIRouter
from pydantic import BaseModel

from fshop.users import service

router = APIRouter(tags=["users"])


class UserIn(BaseModel):
    email: str
    name: str


@router.post("/", status_code=201)
def create_user(body: UserIn) -> dict:
    return service.create_user(body.email, body.name)


@router.get("/{user_id}")
def get_user(user_id: int) -> dict:
    return service.get_user(user_id)
