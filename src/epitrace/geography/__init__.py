"""Where points are in Korea, offline: the districts that contain them (``districts``),
a 시도's or 시군구's names by its code, and names in English (``romanise``)."""

from epitrace.geography.districts import DISTRICT_SCHEMA, District, district, every_district, locate
from epitrace.geography.romanise import romanise

__all__ = ["DISTRICT_SCHEMA", "District", "district", "every_district", "locate", "romanise"]
