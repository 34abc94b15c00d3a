"""Regions from codes: Korea's 시도 and 시군구 (``epitrace.geography``), and the
romanised codes regions had before they were districts.

A cases file, the demo and an administrator name a region by its code. A 시군구
(5 digits) or 시도 (2 digits) code gives the district under its official Korean
name, its 시군구 linked to its 시도; migration 0005 adds them all. Before, the
simulated city's regions were Daegu's districts under romanised slugs
("buk-gu"): ``FORMER_DAEGU`` names them, in any case or spelling, so that the
migrations map them (``former_district_code``).
"""

from __future__ import annotations

import re

from django.utils.text import slugify

from epitrace.geography import District, district, every_district
from epitrace.hub.accounts.models import Region

DAEGU = "27"  # the 시도 code of 대구광역시
# The romanised districts of the former simulated city (letters only, lower case)
# and their Korean names within Daegu.
FORMER_DAEGU = {
    "junggu": "중구",
    "donggu": "동구",
    "seogu": "서구",
    "namgu": "남구",
    "bukgu": "북구",
    "suseonggu": "수성구",
    "dalseogu": "달서구",
    "dalseonggun": "달성군",
}


def former_district_code(code: str) -> str | None:
    """The 시군구 code of a former romanised region code ("Buk-gu", "buk_gu" -> "27230"),
    looked up in the district data; None for any other code."""
    korean = FORMER_DAEGU.get(re.sub(r"[^a-z]", "", code.lower()))
    if korean is None:
        return None
    found = [
        d.code
        for d in every_district("sigungu")
        if d.code.startswith(DAEGU) and d.sigungu == korean
    ]
    return found[0] if len(found) == 1 else None


def level_of(found: District) -> str:
    return Region.Level.SIGUNGU if found.sigungu else Region.Level.SIDO


def district_region(code: str) -> Region | None:
    """The region of a 시군구 or 시도 ``code``, added (with its 시도) if the hub lacks it;
    an existing region of that code as it is; None if the code is neither."""
    region = Region.objects.filter(code=code).first()
    if region is not None:
        return region
    found = district(code)
    if found is None:
        return None
    sido = district_region(code[:2]) if found.sigungu else None
    region, _ = Region.objects.get_or_create(
        code=code, defaults={"name": found.korean, "level": level_of(found), "sido": sido}
    )
    return region


def region_for(value: str) -> Region:
    """The region of a cases file's ``region``: the district of a 시군구 code (or of a
    former romanised one, "Buk-gu"); any other value a region of its own, as before
    districts (its slug as code, the value as name)."""
    region = district_region(former_district_code(value) or value)
    if region is not None:
        return region
    code = slugify(value)[:32] or "region"
    return Region.objects.get_or_create(code=code, defaults={"name": value})[0]
