"""Where points are in Korea, offline: the districts that contain them (``districts``),
their names in English (``romanise``) and their outlines for a map view (``outlines``)."""

from epitrace.geography.districts import DISTRICT_SCHEMA, locate
from epitrace.geography.outlines import ATTRIBUTION, district_outlines
from epitrace.geography.romanise import romanise

__all__ = ["ATTRIBUTION", "DISTRICT_SCHEMA", "district_outlines", "locate", "romanise"]
