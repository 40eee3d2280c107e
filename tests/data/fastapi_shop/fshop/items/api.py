from fastapi import APIRouter

from fshop.items import service
from fshop.items.models import ItemIn, StockChange

router = APIRouter(prefix="/items", tags=["items"])


@router.get("")
def list_items() -> list[dict]:
    return service.list_items()


@router.post("", status_code=201)
def create_item(body: ItemIn) -> dict:
    return service.create_item(body.sku, body.name, body.price_cents, body.stock)


@router.get("/{item_id}")
def get_item(item_id: int) -> dict:
    return service.get_item(item_id)


@router.post("/{item_id}/stock")
def change_stock(item_id: int, body: StockChange) -> dict:
    return service.adjust_stock(item_id, body.delta)
