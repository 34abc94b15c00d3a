"""Data minimisation and destruction: retention periods, the purge, anonymous aggregates.

- ``models``: the administrator's retention settings, the purge log, the aggregates.
- ``rules``: when each kind of data expires.
- ``registry``: the kinds of data the purge destroys, each a target that lists what
  has expired and destroys it; other apps register their own. ``targets``: the
  built-in ones (whole cases, the exchange's answers and results, the audit log).
- ``purge``: ``run_purge(now=None, dry_run=False) -> PurgeReport``, what the CLI
  (``epitrace purge``) and the daily job call.
- ``aggregates``: case counts by day and region that survive the purge.
"""
