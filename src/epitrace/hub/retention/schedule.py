"""What the hub runs on a schedule: the daily purge and the expiry of public disclosures.

The job runner (``exchange.jobs.run_worker``) calls ``housekeeping`` whenever it is idle;
``epitrace serve`` and ``epitrace worker`` hand it over. It lives here, above the exchange,
so that the exchange's runner knows nothing of retention or disclosure.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.utils import timezone

from epitrace.hub.disclosure import drafts
from epitrace.hub.retention import purge

log = logging.getLogger(__name__)
HOUSEKEEPING_EVERY = dt.timedelta(minutes=5)
_last_housekeeping: dict[str, dt.datetime] = {}


def housekeeping(now: dt.datetime | None = None) -> None:
    """Run at most every few minutes: the daily purge (once a local day) and the expiry
    of public disclosure entries. Both are safe when several workers run them."""
    now = now or timezone.now()
    last = _last_housekeeping.get("at")
    if last is not None and now - last < HOUSEKEEPING_EVERY:
        return
    _last_housekeeping["at"] = now
    try:
        purge.run_daily_purge(now)
        drafts.expire_entries(now)
    except Exception:  # never stop the job runner; the next round tries again
        log.exception("scheduled housekeeping failed")
