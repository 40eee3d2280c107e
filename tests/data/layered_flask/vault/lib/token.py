from vault.lib.tokens.hotp import HotpToken
from vault.lib.tokens.totp import TotpToken
from vault.models.token import Token
from vault.db import db

KINDS = {"hotp": HotpToken, "totp": TotpToken}


def list_tokens() -> list[dict]:
    return [{"id": t.id, "name": t.name} for t in db.session.query(Token).all()]


def get_token(ident: int) -> dict:
    t = db.session.get(Token, ident)
    return {"id": t.id, "name": t.name}
