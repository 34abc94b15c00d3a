"""The defaults every layer shares, in one place and with no heavy imports.

Korea is the default setting: a dataset, a store or a hub that says nothing
of its own zone or projection is read as Korean. A dataset's manifest
(``formats.manifest``) and the hub's settings override these.
"""

# Local-time rules (nights at home, calendar days, working hours) use this zone.
DEFAULT_TZ = "Asia/Seoul"

# Distances and grids in metres: Korea 2000 / Unified CS (EPSG:5179).
PROJECTED_CRS = "EPSG:5179"
