"""The FastAPI app: every domain's router, mounted under its prefix."""

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from fshop.errors import ShopError
from fshop.items import api as items_api
from fshop.orders.api import router as orders_router
from fshop.users.api import router as users_router


def create_app() -> FastAPI:
    app = FastAPI(title="fshop")
    app.include_router(items_api.router)
    app.include_router(users_router, prefix="/api/users")
    app.include_router(orders_router, prefix="/api")

    @app.exception_handler(ShopError)
    async def shop_error(request: Request, exc: ShopError) -> JSONResponse:
        return JSONResponse({"error": {"code": exc.code, "message": exc.message}}, status_code=exc.status_code)

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    return app


app = create_app()
