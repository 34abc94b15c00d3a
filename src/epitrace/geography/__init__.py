"""Where points are in Korea, offline: the districts that contain them (``districts``)."""

from epitrace.geography.districts import DISTRICT_SCHEMA, locate

__all__ = ["DISTRICT_SCHEMA", "locate"]
