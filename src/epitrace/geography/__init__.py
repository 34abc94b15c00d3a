"""Where points are in Korea, offline: the districts that contain them (``districts``) and
the districts' outlines for a map view (``outlines``)."""

from epitrace.geography.districts import DISTRICT_SCHEMA, locate
from epitrace.geography.outlines import ATTRIBUTION, district_outlines

__all__ = ["ATTRIBUTION", "DISTRICT_SCHEMA", "district_outlines", "locate"]
