from vault.models.token import Token


class TotpToken:
    kind = "totp"

    def __init__(self, row: Token):
        self.row = row
