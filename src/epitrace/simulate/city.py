"""The built city: places (homes, workplaces, venues, transit stops) and merchants.

Every place lies in a real 시군구 and 읍면동 (``epitrace.geography``): its district
is where its coordinates are, and its address and name use those names.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from epitrace.geography import district, locate
from epitrace.simulate.config import SimulationConfig
from epitrace.simulate.geography import (
    CentreNotOnLand,
    CityFrame,
    NearestLookup,
    draw_on_land,
    on_land,
    points_around_centre,
)
from epitrace.simulate.streams import rng_for

PLACE_KINDS: tuple[str, ...] = (
    "home",
    "work",
    "school",
    "restaurant",
    "cafe",
    "shop",
    "bar",
    "club",
    "church",
    "gym",
    "hospital",
    "transit",
)
KIND = {name: code for code, name in enumerate(PLACE_KINDS)}

# Kinds whose places take cards, and the merchant category they register under.
MERCHANT_CATEGORY = {
    "restaurant": "restaurant",
    "cafe": "cafe",
    "bar": "bar",
    "club": "club",
    "gym": "gym",
    "hospital": "hospital",
}
SHOP_CATEGORIES = ("grocery", "convenience", "pharmacy", "clothing")

SERVICE_HOURS = (9.0, 11.0, 14.0)  # Sunday church services
SERVICE_MINUTES = 100.0

_NAME_WORDS = (
    "Hanbit",
    "Saerom",
    "Dasol",
    "Haneul",
    "Areum",
    "Bitnara",
    "Gaon",
    "Narae",
    "Sarang",
    "Hwasin",
    "Palgong",
    "Apsan",
    "Geumho",
    "Sincheon",
    "Dalgubeol",
    "Banwol",
    "Suseong",
    "Seomun",
    "Cheongna",
    "Duryu",
)
_KIND_NOUNS = {
    "home": ("Residence",),
    "work": ("Co.", "Industries", "Logistics", "Office", "Textiles"),
    "school": ("Elementary School", "Middle School", "High School"),
    "restaurant": ("Gukbap", "Makchang", "Kimbap", "Jjimdak", "Galbi", "Noodle House", "Chicken"),
    "cafe": ("Coffee", "Cafe", "Bakery Cafe"),
    "shop": ("Mart", "Store", "Pharmacy", "Boutique"),
    "bar": ("Pocha", "Hof", "Wine Bar"),
    "club": ("Club", "Lounge"),
    "church": ("Church", "Presbyterian Church", "Community Church"),
    "gym": ("Fitness", "Gym"),
    "hospital": ("Hospital", "Clinic", "Medical Center"),
    "transit": ("stop",),
}

# Daegu Metro stations from one end of each line to the other (line 3 is the monorail).
SUBWAY_LINES: tuple[tuple[float, tuple[str, ...]], ...] = (
    (
        30.0,
        (
            "Hwawon",
            "Daegok",
            "Jincheon",
            "Wolbae",
            "Sangin",
            "Wolchon",
            "Songhyeon",
            "Seobu Bus Terminal",
            "Daemyeong",
            "Anjirang",
            "Hyeonchungno",
            "Banwoldang",
            "Jungangno",
            "Daegu Station",
            "Chilseong Market",
            "Sincheon",
            "Dongdaegu",
            "Dongchon",
            "Haean",
            "Banyawol",
            "Gaksan",
            "Ansim",
        ),
    ),
    (
        -5.0,
        (
            "Munyang",
            "Daesil",
            "Gangchang",
            "Keimyung Univ.",
            "Igok",
            "Yongsan",
            "Jukjeon",
            "Gamsam",
            "Duryu",
            "Naedang",
            "Banggogae",
            "Cheongna Hill",
            "Kyungpook Univ. Hospital",
            "Daegu Bank",
            "Beomeomun",
            "Suseong-gu Office",
            "Manchon",
            "Damti",
            "Yeonho",
            "Sawol",
        ),
    ),
    (
        100.0,
        (
            "Chilgok",
            "Dongcheon",
            "Palgeo",
            "Hakjeong",
            "Taejeon",
            "Maecheon Market",
            "Buk-gu Office",
            "Seomun Market",
            "Namsan",
            "Myeongdeok",
            "Keondeulbawi",
            "Daebong Bridge",
            "Suseong Market",
            "Hwanggeum",
            "Suseongmot",
            "Yongji",
        ),
    ),
)


@dataclass
class City:
    """Places of every kind (one array per attribute) and the merchants among them."""

    kind: np.ndarray  # int8 code into PLACE_KINDS
    x: np.ndarray  # metres east of the centre
    y: np.ndarray  # metres north of the centre
    lat: np.ndarray
    lon: np.ndarray
    district: np.ndarray  # int index into district_codes: the 시군구 the place lies in
    district_codes: list[str]  # 5-digit 시군구 codes of the city's places, sorted
    district_names: list[str]  # their Korean names, e.g. "대구광역시 북구"
    neighbourhoods: list[str]  # per place, the 읍면동 it lies in, e.g. "산격동"
    popularity: np.ndarray  # relative draw of visitors among places of a kind
    names: list[str]
    addresses: list[str]
    merchant: np.ndarray  # index into merchant lists, -1 = takes no cards
    merchant_category: list[str]  # one per merchant (offline then online)
    online_merchants: np.ndarray  # merchant indices of online shops
    online_merchant_names: list[str]
    online_merchant_addresses: list[str]
    online_lat: np.ndarray
    online_lon: np.ndarray
    services: np.ndarray  # churches: number of Sunday services (1..3), else 0
    stop_mode: np.ndarray  # transit stops: 0 bus, 1 subway, -1 otherwise
    frame: CityFrame

    @property
    def size(self) -> int:
        return int(self.kind.size)

    def of_kind(self, kind: str) -> np.ndarray:
        return np.flatnonzero(self.kind == KIND[kind])

    @property
    def place_ids(self) -> list[str]:
        return [f"PL{i:07d}" for i in range(self.size)]

    @property
    def merchant_count(self) -> int:
        return len(self.merchant_category)

    @property
    def merchant_ids(self) -> list[str]:
        return [f"M{i:08d}" for i in range(self.merchant_count)]

    def stops(self, mode: int) -> np.ndarray:
        return np.flatnonzero(self.stop_mode == mode)

    def stop_lookup(self, mode: int, half_width_m: float) -> NearestLookup:
        idx = self.stops(mode)
        return NearestLookup(self.x[idx], self.y[idx], half_width_m, pixel_m=100.0)


def _count(config: SimulationConfig, per_1000: float, minimum: int = 1) -> int:
    return max(minimum, round(config.residents * per_1000 / 1000))


def _subway_stations(
    config: SimulationConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    xs, ys, names = [], [], []
    for angle_deg, stations in SUBWAY_LINES:
        angle = np.deg2rad(angle_deg)
        n = int(2 * config.subway_line_length_m // config.subway_station_spacing_m) + 1
        along = (np.arange(n) - (n - 1) / 2) * config.subway_station_spacing_m
        along = along + rng.normal(0, 80, n)
        xs.append(along * np.cos(angle))
        ys.append(along * np.sin(angle))
        for i in range(n):  # past the last real name: "Hwawon 2 Station", ...
            repeat = "" if i < len(stations) else f" {i // len(stations) + 1}"
            names.append(f"{stations[i % len(stations)]}{repeat} Station")
    return np.concatenate(xs), np.concatenate(ys), names


@dataclass(frozen=True)
class Districts:
    """Where each place lies: its 시군구 (an index into ``codes``) and its 읍면동."""

    index: np.ndarray
    codes: list[str]
    names: list[str]
    neighbourhoods: list[str]
    addressed: list[str]  # per place "시도 시군구 읍면동", the start of its address

    @classmethod
    def of(cls, lat: np.ndarray, lon: np.ndarray) -> Districts:
        where = locate(lat, lon)
        code = where.column("sigungu_code").to_numpy(zero_copy_only=False)
        codes, index = np.unique(code.astype(str), return_inverse=True)
        sido, sigungu, emd = (where.column(c).to_pylist() for c in ("sido", "sigungu", "emd"))
        return cls(
            index=index,
            codes=codes.tolist(),
            names=[district(c).korean for c in codes.tolist()],
            neighbourhoods=emd,
            addressed=[f"{a} {b} {c}" for a, b, c in zip(sido, sigungu, emd, strict=True)],
        )


def _addresses(rng: np.random.Generator, districts: Districts) -> list[str]:
    """Lot-number (지번) addresses: "대구광역시 북구 산격동 123"."""
    number = rng.integers(1, 1000, len(districts.addressed))
    return [f"{a} {n}" for a, n in zip(districts.addressed, number.tolist(), strict=True)]


def _names(rng: np.random.Generator, kind: np.ndarray, neighbourhoods: list[str]) -> list[str]:
    word = rng.integers(0, len(_NAME_WORDS), kind.size).tolist()
    noun = rng.integers(0, 1000, kind.size).tolist()
    out = []
    for i, (k, d) in enumerate(zip(kind.tolist(), neighbourhoods, strict=True)):
        nouns = _KIND_NOUNS[PLACE_KINDS[k]]
        if PLACE_KINDS[k] == "home":
            out.append(f"Residence {i}, {d}")
        else:
            out.append(f"{_NAME_WORDS[word[i]]} {nouns[noun[i] % len(nouns)]} ({d})")
    return out


def build_city(config: SimulationConfig, households: int) -> City:
    """Lay out ``households`` homes and the venues a city of that size has."""
    rng = rng_for(config.seed, "city")
    frame = CityFrame.of(config)
    if not on_land(frame, np.zeros(1), np.zeros(1))[0]:
        raise CentreNotOnLand(
            f"the centre {config.centre_lat}, {config.centre_lon} is not on Korean land"
        )
    radius = config.city_radius_m
    layers: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = []  # kind, x, y, popularity

    def add(
        kind: str, count: int, scale_m: float, even_share: float, popularity: np.ndarray
    ) -> None:
        x, y = draw_on_land(
            frame, lambda n: points_around_centre(rng, n, scale_m, radius, even_share), count
        )
        layers.append((kind, x, y, popularity))

    add("home", households, config.home_scale_m, config.rural_home_share, np.ones(households))
    n_work = _count(config, config.workplaces_per_1000)
    add("work", n_work, config.commerce_scale_m, 0.05, rng.pareto(1.5, n_work) + 1)
    for kind, per_1000, scale in (
        ("school", config.schools_per_1000, config.home_scale_m),
        ("restaurant", config.restaurants_per_1000, config.commerce_scale_m),
        ("cafe", config.cafes_per_1000, config.commerce_scale_m),
        ("shop", config.shops_per_1000, config.home_scale_m),
        ("bar", config.bars_per_1000, config.commerce_scale_m),
        ("club", config.clubs_per_1000, config.nightlife_scale_m),
        ("church", config.churches_per_1000, config.home_scale_m),
        ("gym", config.gyms_per_1000, config.commerce_scale_m),
        ("hospital", config.hospitals_per_1000, config.home_scale_m),
    ):
        n = _count(config, per_1000, minimum=2 if kind == "church" else 1)
        if kind == "church":  # Zipf congregations: the first church is the largest
            popularity = 1.0 / np.arange(1, n + 1) ** config.church_size_exponent
        else:
            popularity = rng.lognormal(0.0, 0.8, n)
        add(kind, n, scale, 0.05, popularity)
    n_bus = _count(config, config.bus_stops_per_1000, minimum=20)
    add("transit", n_bus, config.home_scale_m, config.rural_home_share, np.ones(n_bus))
    sx, sy, station_names = _subway_stations(config, rng)
    # A line ends at the shore: no station at sea.
    dry = on_land(frame, sx, sy)
    sx, sy, station_names = (
        sx[dry],
        sy[dry],
        [n for n, d in zip(station_names, dry, strict=True) if d],
    )
    layers.append(("transit", sx, sy, np.ones(sx.size)))

    kind = np.concatenate([np.full(layer[1].size, KIND[layer[0]], np.int8) for layer in layers])
    x = np.concatenate([layer[1] for layer in layers])
    y = np.concatenate([layer[2] for layer in layers])
    popularity = np.concatenate([layer[3] for layer in layers])
    lat, lon = frame.lat_lon(x, y)
    districts = Districts.of(lat, lon)
    names = _names(rng, kind, districts.neighbourhoods)
    stop_mode = np.where(kind == KIND["transit"], 0, -1).astype(np.int8)
    stop_mode[kind.size - sx.size :] = 1
    bus_idx = np.flatnonzero(stop_mode == 0)
    for i, place in enumerate(bus_idx.tolist()):
        names[place] = f"{districts.neighbourhoods[place]} bus stop {i + 1}"
    names[kind.size - sx.size :] = station_names
    addresses = _addresses(rng, districts)

    services = np.zeros(kind.size, np.int8)
    churches = np.flatnonzero(kind == KIND["church"])
    services[churches] = np.clip(
        np.ceil(3 * popularity[churches] / popularity[churches].max()), 1, 3
    )

    merchant = np.full(kind.size, -1, np.int64)
    takes_cards = np.isin(kind, [KIND[k] for k in (*MERCHANT_CATEGORY, "shop")])
    merchant[takes_cards] = np.arange(int(takes_cards.sum()))
    shop_category = rng.integers(0, len(SHOP_CATEGORIES), kind.size)
    categories = [
        SHOP_CATEGORIES[shop_category[p]]
        if kind[p] == KIND["shop"]
        else MERCHANT_CATEGORY[PLACE_KINDS[kind[p]]]
        for p in np.flatnonzero(takes_cards).tolist()
    ]
    online = _online_merchants(config, rng, frame)
    online_idx = np.arange(len(categories), len(categories) + config.online_merchants)
    categories += ["online"] * config.online_merchants
    return City(
        kind=kind,
        x=x,
        y=y,
        lat=lat,
        lon=lon,
        district=districts.index,
        district_codes=districts.codes,
        district_names=districts.names,
        neighbourhoods=districts.neighbourhoods,
        popularity=popularity,
        names=names,
        addresses=addresses,
        merchant=merchant,
        merchant_category=categories,
        online_merchants=online_idx,
        online_merchant_names=online[0],
        online_merchant_addresses=online[1],
        online_lat=online[2],
        online_lon=online[3],
        services=services,
        stop_mode=stop_mode,
        frame=frame,
    )


def _online_merchants(
    config: SimulationConfig, rng: np.random.Generator, frame: CityFrame
) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """Online shops: registered at offices in Seoul, nowhere near their customers."""
    kinds = ("Open Market", "Delivery App", "Streaming", "Travel Booking", "Mobile Games", "Books")
    n = config.online_merchants
    names = [
        f"{_NAME_WORDS[i % len(_NAME_WORDS)]} {kinds[i % len(kinds)]} Online" for i in range(n)
    ]
    lat = np.round(37.50 + rng.normal(0, 0.03, n), 7)
    lon = np.round(127.03 + rng.normal(0, 0.04, n), 7)
    addresses = [f"{rng.integers(1, 500)} Teheran-ro, Gangnam-gu, Seoul" for _ in range(n)]
    return names, addresses, lat, lon
