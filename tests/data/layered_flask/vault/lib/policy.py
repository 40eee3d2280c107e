from vault.db import db
from vault.models.policy import Policy


def list_policys() -> list[dict]:
    return [{"id": p.id, "name": p.name} for p in db.session.query(Policy).all()]


def get_policy(ident: int) -> dict:
    p = db.session.get(Policy, ident)
    return {"id": p.id, "name": p.name}
