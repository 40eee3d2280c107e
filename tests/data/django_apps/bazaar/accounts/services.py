from bazaar.accounts.notify import welcome


def open_account(name: str) -> int:
    return welcome(name)
