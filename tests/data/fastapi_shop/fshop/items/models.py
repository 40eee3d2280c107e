from pydantic import BaseModel, Field


class ItemIn(BaseModel):
    sku: str = Field(min_length=1)
    name: str
    price_cents: int = Field(ge=0)
    stock: int = Field(default=0, ge=0)


class StockChange(BaseModel):
    delta: int
