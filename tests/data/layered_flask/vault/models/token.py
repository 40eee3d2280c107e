from vault.db import db


class Token(db.Model):
    __tablename__ = "tokens"
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(40))
