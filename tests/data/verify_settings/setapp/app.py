from fastapi import FastAPI

from setapp import accounts, news

app = FastAPI()
app.include_router(accounts.router)
app.include_router(news.router)
