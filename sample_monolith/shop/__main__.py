"""``python -m shop``: serve the API with the built-in threaded server."""

from __future__ import annotations

import logging

from shop.app import create_app
from shop.config import get_settings


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = get_settings()
    app = create_app(settings)
    app.run(host=settings.host, port=settings.port, debug=settings.debug, threaded=True,
            use_reloader=False)


if __name__ == "__main__":
    main()
