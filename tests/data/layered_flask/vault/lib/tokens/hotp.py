from vault.models.token import Token


class HotpToken:
    kind = "hotp"

    def __init__(self, row: Token):
        self.row = row
