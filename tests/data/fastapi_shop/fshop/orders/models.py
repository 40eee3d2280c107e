from pydantic import BaseModel, Field


class OrderLine(BaseModel):
    item_id: int
    quantity: int = Field(gt=0)


class OrderIn(BaseModel):
    user_id: int
    lines: list[OrderLine]
