from fastapi import FastAPI

from memapp import auth, shop

app = FastAPI()
app.include_router(auth.router)
app.include_router(shop.router)
