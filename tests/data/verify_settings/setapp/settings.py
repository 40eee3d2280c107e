"""The app's settings: one module-level object that the app reads on every request and the
test suite changes in its own process (LNbits' ``lnbits.settings.settings``)."""

from enum import Enum

from pydantic_settings import BaseSettings


class Method(str, Enum):
    password = "password"
    token = "token"


class Settings(BaseSettings):
    allow_signup: bool = False
    motd: str = "hello"
    admins: list[str] = []
    methods: list[Method] = [Method.password]


settings = Settings()
