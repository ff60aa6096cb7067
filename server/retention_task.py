"""The purge while the server runs: once at start, then again whenever the day has changed
since the last run. Only the day of the last run is kept, in memory; no time is stored or
logged (a failed run logs only its exception type and place, and is tried again later)."""

import logging
from datetime import date

import anyio

from .context import AppContext
from .errors import scrubbed_location
from .retention import Purged, purge

log = logging.getLogger("quietline.server")

CHECK_SECONDS = 600.0  # how often the day is looked at; the purge itself runs once a day


def purge_now(ctx: AppContext) -> Purged:
    return purge(ctx.db, ctx.blobs, ctx.settings, ctx.today())


class DailyPurge:
    def __init__(self, ctx: AppContext, check_seconds: float = CHECK_SECONDS):
        self.ctx = ctx
        self.check_seconds = check_seconds
        self.last_day: date | None = None

    async def run_once(self) -> None:
        today = self.ctx.today()
        if today == self.last_day:
            return
        try:
            await anyio.to_thread.run_sync(purge_now, self.ctx)
        except Exception as exc:  # noqa: BLE001 - the server keeps serving; tried again later
            log.warning("purge failed: %s", scrubbed_location(exc))
            return
        self.last_day = today

    async def run_forever(self) -> None:
        while True:
            await anyio.sleep(self.check_seconds)
            await self.run_once()
