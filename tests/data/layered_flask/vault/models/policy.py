from vault.db import db


class Policy(db.Model):
    __tablename__ = "policys"
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(40))
