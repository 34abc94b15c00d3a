"""The use cases: each module is one thing a user asks of epitrace, end to end.

- ``investigation``: one subject's investigation (trace, interview
  comparison, contact search) from anything that answers a subject's bounded
  questions; ``epitrace analyze`` writes its files, the hub stores it.
- ``contact_search``: who was with the subject at each public stay, asked of
  the agencies' stores.
- ``hotspots``: ``epitrace hotspots``, outbreak hotspots from a dataset folder.
- ``hotspots_among_people``: ``epitrace hotspots --among-people``, where a
  carrier's records are.
- ``evaluation``: ``epitrace evaluate``, stays against a simulated city's truth.

Workflows compose ``analysis`` (pure computation), ``providers`` (the
agencies' stores) and ``formats`` (files); ``cli`` and ``hub`` call them.
"""
