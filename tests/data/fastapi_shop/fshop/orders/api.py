from fastapi import APIRouter

from fshop.orders import service
from fshop.orders.models import OrderIn

router = APIRouter(prefix="/orders", tags=["orders"])


@router.post("", status_code=201)
def place_order(body: OrderIn) -> dict:
    return service.place_order(body.user_id, [line.model_dump() for line in body.lines])


@router.get("/{order_id}")
def get_order(order_id: int) -> dict:
    return service.get_order(order_id)
