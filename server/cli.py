"""`quietline serve`: migrate the database to the latest schema, then run the server with
no access log, no Server or Date header, no proxy headers, and address-free logs."""

import logging.config

import click

from .logging_config import LOGGING_CONFIG


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", default=8470, show_default=True, type=int, help="port to listen on")
def serve(host: str, port: int) -> None:
    """Run the Quietline server (settings from QUIETLINE_* variables)."""
    import uvicorn

    from .app import create_app
    from .settings import Settings
    from .storage.migrate import upgrade

    logging.config.dictConfig(LOGGING_CONFIG)
    settings = Settings()
    try:
        upgrade(settings.database_url)
        app = create_app(settings)
    except RuntimeError as exc:  # a missing or invalid deployment file, manifest, token file ...
        raise click.ClickException(f"{exc}{f' ({exc.__cause__})' if exc.__cause__ else ''}") from None
    logging.getLogger("quietline.server").info("database at the latest migration; starting on port %d", port)
    uvicorn.run(
        app,
        host=host,
        port=port,
        access_log=False,
        server_header=False,
        date_header=False,
        proxy_headers=False,
        forwarded_allow_ips="",
        log_config=LOGGING_CONFIG,
    )


if __name__ == "__main__":
    serve()
