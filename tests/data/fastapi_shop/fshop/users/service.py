"""Users, kept in memory."""

import threading

from fshop.errors import NotFound

_lock = threading.Lock()
_users: dict[int, dict] = {}


def create_user(email: str, name: str) -> dict:
    with _lock:
        user = {"id": len(_users) + 1, "email": email, "name": name}
        _users[user["id"]] = user
        return dict(user)


def get_user(user_id: int) -> dict:
    user = _users.get(user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return dict(user)


def user_exists(user_id: int) -> bool:
    return user_id in _users
