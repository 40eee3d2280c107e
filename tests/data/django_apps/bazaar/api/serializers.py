def describe() -> dict:
    return {"version": 1}
