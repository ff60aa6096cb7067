"""`quietline serve`: migrate the database to the latest schema, then run the server with
no access log, no Server or Date header, no proxy headers, and address-free logs.

`quietline server holdings` shows what the server holds by age; `quietline server purge`
applies the retention rules now (server/retention.py). Both read the QUIETLINE_* settings
and refuse a database that is not at the latest migration."""

import json
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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def server() -> None:
    """Look after the server's database (settings from QUIETLINE_* variables)."""


def _open_database():
    from .settings import Settings
    from .storage.db import Database
    from .storage.migrate import check_schema

    try:
        settings = Settings()
    except ValueError as exc:
        raise click.ClickException(f"invalid settings: {exc}") from None
    db = Database(settings.database_url)
    try:
        check_schema(db.engine, settings.database_url)
    except Exception as exc:  # noqa: BLE001 - not migrated, or no database at all
        db.dispose()
        message = str(exc) if isinstance(exc, RuntimeError) else f"cannot read the database ({type(exc).__name__})"
        raise click.ClickException(message) from None
    return settings, db


@server.command()
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def holdings(as_json: bool) -> None:
    """What the server holds, counted by the age of each row's day."""
    from rich.console import Console
    from rich.table import Table

    from .holdings import BUCKETS
    from .holdings import holdings as count_holdings
    from .ids import utc_today

    _settings, db = _open_database()
    try:
        held = count_holdings(db, utc_today())
    finally:
        db.dispose()
    if as_json:
        click.echo(json.dumps(held.to_json(), indent=2))
        return
    table = Table(title=f"What the server holds on {held.today.isoformat()}, by age")
    table.add_column("")
    for label, _ in BUCKETS:
        table.add_column(label, justify="right")
    table.add_column("total", justify="right")
    for row in held.rows:
        table.add_row(row.label, *(f"{row.by_age[label]:,}" for label, _ in BUCKETS), f"{row.total:,}")
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = 160  # piped or captured: keep every column whole
    console.print(table)


@server.command()
def purge() -> None:
    """Apply the retention rules now: expired replies and idle expired cases, orphan
    uploads, stray chunk files."""
    from .ids import utc_today
    from .retention import purge as run_purge
    from .storage.blobs import open_blob_store

    settings, db = _open_database()
    try:
        blobs = open_blob_store(settings)
        blobs.check()
        done = run_purge(db, blobs, settings, utc_today())
    except (RuntimeError, ValueError) as exc:  # the blob store is unusable or unreachable
        raise click.ClickException(str(exc)) from None
    finally:
        db.dispose()
    click.echo(
        f"purged {done.cases} expired case(s), {done.replies} expired reply(ies), "
        f"{done.orphan_uploads} orphan upload(s), stray files of {done.stray_uploads} upload(s), "
        f"{done.temporary_files} staged chunk(s) a crash left"
    )


if __name__ == "__main__":
    serve()
