from vault.db import db
from vault.models.user import User


def list_users() -> list[dict]:
    return [{"id": u.id, "name": u.name} for u in db.session.query(User).all()]


def get_user(ident: int) -> dict:
    u = db.session.get(User, ident)
    return {"id": u.id, "name": u.name}
