"""Where points are in Korea, offline: the districts that contain them (``districts``)."""

from epitrace.geography.districts import DISTRICT_SCHEMA, District, district, every_district, locate

__all__ = ["DISTRICT_SCHEMA", "District", "district", "every_district", "locate"]
