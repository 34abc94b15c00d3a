"""Where points are in Korea, offline: the districts that contain them (``districts``),
a 시도's or 시군구's names by its code, their names in English (``romanise``) and their
outlines for a map view (``outlines``)."""

from epitrace.geography.districts import (
    DISTRICT_SCHEMA,
    District,
    district,
    every_district,
    locate,
)
from epitrace.geography.outlines import ATTRIBUTION, district_outlines
from epitrace.geography.romanise import romanise

__all__ = [
    "ATTRIBUTION",
    "DISTRICT_SCHEMA",
    "District",
    "district",
    "district_outlines",
    "every_district",
    "locate",
    "romanise",
]
