"""A header on every page the site serves (named in MIDDLEWARE by string only)."""


def served_by(get_response):
    def middleware(request):
        response = get_response(request)
        response["X-Library"] = "1"
        return response

    return middleware
