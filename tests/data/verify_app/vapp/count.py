from flask import Blueprint

bp = Blueprint("count", __name__)

COUNTER = 0


@bp.post("/count")
def count():
    global COUNTER
    COUNTER += 1
    return str(COUNTER)
