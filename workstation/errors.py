"""One way to fail on the command line: a single readable line on stderr, a non-zero exit,
and no traceback. Shared by the `ws`, `keys` and `sync` command groups."""

import os
import sqlite3
import unicodedata

import click

from crypto.errors import ProtocolError


class WorkstationError(Exception):
    """A failure or refusal to show as one line; `code` is a stable name where one helps."""

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code


def printable(text: object) -> str:
    """`text` with control characters (terminal escape sequences included) made visible,
    so nothing from a report or a server can drive the focal point's terminal."""
    out = []
    for ch in str(text):
        if ch in "\n\t":
            out.append(ch)
        elif unicodedata.category(ch) == "Cc":
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


def one_line(text: object) -> str:
    return " ".join(printable(text).split())


def describe(exc: BaseException) -> str:
    """What went wrong, in one line a person can act on."""
    if isinstance(exc, ProtocolError):
        return f"{exc.code}: {exc.message}"
    if isinstance(exc, WorkstationError):
        return f"{exc.code}: {exc.message}" if exc.code else exc.message
    if isinstance(exc, click.ClickException):
        return exc.format_message()
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or exc.__class__.__name__}{where}"
    if isinstance(exc, sqlite3.Error):
        return f"vault database error: {exc}"
    if isinstance(exc, MemoryError):
        return "out of memory"
    return f"unexpected {exc.__class__.__name__}: {exc}"


class CommandGroup(click.Group):
    """A click group whose subcommands never print a traceback: every failure becomes
    `error: <one line>` on stderr and exit status 1 (2 for a usage mistake).

    Set QUIETLINE_DEBUG=1 to see the traceback while developing."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:  # noqa: BLE001 - this is the one place errors are shown
            if os.environ.get("QUIETLINE_DEBUG") == "1":
                raise
            click.echo(f"error: {one_line(describe(exc))}", err=True)
            code = exc.exit_code if isinstance(exc, click.ClickException) else 1
            ctx.exit(code or 1)
