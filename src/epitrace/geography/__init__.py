"""Where points are in Korea, offline: the districts that contain them (``districts``)
and their names in English (``romanise``)."""

from epitrace.geography.districts import DISTRICT_SCHEMA, locate
from epitrace.geography.romanise import romanise

__all__ = ["DISTRICT_SCHEMA", "locate", "romanise"]
