"""Template context of every page (named in TEMPLATES by string only)."""


def site(request):
    return {"site_name": "Library"}
