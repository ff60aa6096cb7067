"""Logging for the server process: no access log, and every line passes through a
formatter that replaces anything shaped like an IP address, so no client address can be
written even by a library that tries (uvicorn's own startup banner included)."""

import logging
import re

_IPV4 = r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])"
_H = r"[0-9A-Fa-f]{1,4}"
_IPV6 = (
    rf"(?<![0-9A-Fa-f:])(?:(?:{_H}:){{7}}{_H}"  # full form
    rf"|(?:{_H}(?::{_H})*)?::(?:{_H}(?::{_H})*)?)(?![0-9A-Fa-f:])"  # compressed form
)
IPV4 = re.compile(_IPV4)
IPV6 = re.compile(rf"\[?{_IPV6}\]?")


def scrub(text: str) -> str:
    return IPV6.sub("[address]", IPV4.sub("[address]", text))


class ScrubbingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"  # no time, no address, no request line

LOGGING_CONFIG: dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"scrubbed": {"()": ScrubbingFormatter, "format": LOG_FORMAT}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "scrubbed", "stream": "ext://sys.stderr"}},
    "loggers": {
        "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "uvicorn.error": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        # Never enabled (access_log=False), and if it were, nothing would reach a handler.
        "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
        "quietline": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "alembic": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
        "sqlalchemy": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
    },
    "root": {"handlers": ["stderr"], "level": "WARNING"},
}
