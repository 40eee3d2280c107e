"""Domain errors, turned into JSON answers by the app's exception handlers."""


class ShopError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(ShopError):
    status_code = 404
    code = "not_found"


class Conflict(ShopError):
    status_code = 409
    code = "conflict"
