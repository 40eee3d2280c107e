"""An in-memory cache: one per process (LNbits' ``lnbits.utils.cache.cache``)."""

import time


class Cache:
    def __init__(self) -> None:
        self._values: dict[str, tuple[object, float]] = {}

    def get(self, key: str, default=None):
        value, until = self._values.get(key, (default, 0.0))
        if until and until < time.time():
            self._values.pop(key, None)
            return default
        return value

    def set(self, key: str, value, expiry: float = 60.0) -> None:
        self._values[key] = (value, time.time() + expiry)

    def pop(self, key: str, default=None):
        return self._values.pop(key, (default, 0.0))[0]


cache = Cache()
