"""Provider stores: each agency's own tables, laid out for its narrow queries.

``build_stores(dataset, out)`` splits a contract dataset folder (every
agency's tables side by side, as the simulator writes them) into one store
per agency, the way each agency would hold its own data:

- a mobile carrier (SKT, KT, LGU): ``cells``, ``subscribers``, and
  ``telecom_records`` twice: by place (sorted by cell_id, ts) for place-time
  presence, and ``telecom_by_subscriber`` (sorted by subscriber, ts) for
  subject extracts;
- a card issuer: ``card_holders``, a copy of the ``merchants`` registry,
  ``card_transactions`` (sorted by merchant_id, ts) and
  ``card_transactions_by_card`` (sorted by card_id, ts), ``transit_taps``;
- the credit-finance association: ``merchants`` and ``card_directory``
  (person_ref -> issuers holding that person's cards);
- each entry-log operator: ``entry_logs`` (sorted by venue_id, ts) and
  ``entry_logs_by_visitor``;
- ``gps``: ``gps_points`` handed over by patients (sorted by person_ref, ts).

Large tables are hive-partitioned by UTC date (``date=YYYY-MM-DD/``), one
sorted Parquet file per partition, so a query reads only its days and, within
them, only the row groups whose min/max statistics can match. Every file or
partition is written under ``_building/`` and renamed into place when complete:
a rebuild skips what exists (``force`` redoes it), and a crash loses nothing
already built. A ``store.json`` manifest per store records agency, tables, row
counts, date range and build time.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from epitrace.errors import UsageMistake
from epitrace.formats.readers import table_files
from epitrace.formats.schemas import table
from epitrace.progress import progress_bar

MANIFEST = "store.json"
BUILDING = "_building"  # temporary files; readers never look here
ASSOCIATION = "credit-finance association"
GPS_AGENCY = "gps"

# Small row groups for the place-sorted telecom copy: a place query touches a
# handful of cells, and each row group it cannot skip costs a read.
ROW_GROUP_ROWS = {"telecom_records": 32_768}
DEFAULT_ROW_GROUP_ROWS = 65_536


class StoreBuildError(UsageMistake, ValueError):
    """The dataset folder cannot be turned into provider stores."""


@dataclass(frozen=True)
class PartitionedTable:
    """A store table split by UTC date, each partition sorted by ``order``."""

    name: str  # folder in the store
    source: str  # contract table it is cut from
    order: tuple[str, ...]


@dataclass(frozen=True)
class Agency:
    """One store: an agency and what it holds."""

    name: str
    kind: str  # carrier, card_issuer, card_association, entry_operator, gps
    key_column: str | None  # column that names the agency in shared tables
    small: tuple[str, ...] = ()  # single-file tables (registries)
    partitioned: tuple[PartitionedTable, ...] = ()

    @property
    def folder(self) -> str:
        return store_folder_name(self.name)


def store_folder_name(agency: str) -> str:
    """A filesystem-safe folder name for an agency, e.g. 'KB Kookmin' -> 'kb-kookmin'."""
    slug = re.sub(r"[^a-z0-9]+", "-", agency.lower()).strip("-")
    if not slug:
        raise StoreBuildError(f"agency name {agency!r} has no letters or digits")
    return slug


TELECOM = (
    PartitionedTable("telecom_records", "telecom_records", ("cell_id", "ts")),
    PartitionedTable("telecom_by_subscriber", "telecom_records", ("subscriber", "ts")),
)
CARDS = (
    PartitionedTable("card_transactions", "card_transactions", ("merchant_id", "ts")),
    PartitionedTable("card_transactions_by_card", "card_transactions", ("card_id", "ts")),
    PartitionedTable("transit_taps", "transit_taps", ("card_id", "ts")),
)
ENTRIES = (
    PartitionedTable("entry_logs", "entry_logs", ("venue_id", "ts")),
    PartitionedTable("entry_logs_by_visitor", "entry_logs", ("visitor", "ts")),
)
GPS = (PartitionedTable("gps_points", "gps_points", ("person_ref", "ts")),)


@dataclass
class StoreManifest:
    agency: str
    kind: str
    tables: dict[str, dict[str, object]] = field(default_factory=dict)
    first_date: str | None = None
    last_date: str | None = None
    built_at: str = ""
    build_seconds: float = 0.0

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=1, sort_keys=True)


def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


class _Dataset:
    """The contract tables of a dataset folder as DuckDB views."""

    def __init__(self, folder: Path, db: duckdb.DuckDBPyConnection) -> None:
        self.folder = folder
        self.db = db
        self.present: set[str] = set()
        self._counts: dict[tuple[str, str | None], dict[str | None, dict[dt.date, int]]] = {}
        for name in (
            "cells",
            "subscribers",
            "telecom_records",
            "merchants",
            "card_holders",
            "card_transactions",
            "transit_taps",
            "gps_points",
            "entry_logs",
        ):
            files = table_files(folder, name)
            if files:
                db.execute(f'CREATE VIEW "{name}" AS {self._scan(name, files[0])}')
                self.present.add(name)

    @staticmethod
    def _scan(name: str, path: Path) -> str:
        columns = ", ".join(f'"{c}"' for c in table(name).column_names)
        if path.suffix == ".parquet":
            return f"SELECT {columns} FROM read_parquet({_sql_path(path)})"
        types = {
            c.name: {"timestamp": "TIMESTAMPTZ", "float": "DOUBLE", "int": "BIGINT"}.get(
                c.kind.value, "VARCHAR"
            )
            for c in table(name).columns
        }
        spec = "{" + ", ".join(f"'{k}': '{v}'" for k, v in types.items()) + "}"
        return f"SELECT {columns} FROM read_csv({_sql_path(path)}, header=true, columns={spec})"

    def date_counts(self, source: str, key: str | None) -> dict[str | None, dict[dt.date, int]]:
        """Rows per agency and UTC date, from one scan per table (cached)."""
        if source not in self.present:
            return {}
        if (source, key) not in self._counts:
            agency = f'"{key}"' if key else "NULL"
            rows = self.db.sql(
                f'SELECT {agency}, CAST(ts AS DATE) AS d, count(*) FROM "{source}" GROUP BY ALL'
            ).fetchall()
            counts: dict[str | None, dict[dt.date, int]] = {}
            for name, day, n in rows:
                counts.setdefault(name, {})[day] = n
            self._counts[(source, key)] = counts
        return self._counts[(source, key)]

    def distinct(self, source: str, column: str) -> list[str]:
        if source not in self.present:
            return []
        rows = self.db.sql(f'SELECT DISTINCT "{column}" FROM "{source}" ORDER BY 1').fetchall()
        return [r[0] for r in rows]


def discover_agencies(data: _Dataset) -> list[Agency]:
    """Every agency whose data the dataset holds."""
    carriers = sorted(
        set(data.distinct("subscribers", "carrier")) | set(data.distinct("cells", "carrier"))
    )
    issuers = sorted(
        set(data.distinct("card_holders", "issuer"))
        | set(data.distinct("card_transactions", "issuer"))
    )
    operators = data.distinct("entry_logs", "operator")
    agencies = [
        Agency(c, "carrier", "carrier", ("cells", "subscribers"), TELECOM) for c in carriers
    ]
    agencies += [
        Agency(i, "card_issuer", "issuer", ("card_holders", "merchants"), CARDS) for i in issuers
    ]
    if "merchants" in data.present or "card_holders" in data.present:
        agencies.append(
            Agency(ASSOCIATION, "card_association", None, ("merchants", "card_directory"))
        )
    agencies += [Agency(o, "entry_operator", "operator", (), ENTRIES) for o in operators]
    if "gps_points" in data.present:
        agencies.append(Agency(GPS_AGENCY, "gps", None, (), GPS))
    return agencies


def _small_query(agency: Agency, name: str, data: _Dataset) -> str | None:
    """SELECT for a registry table of this agency, or None if the dataset lacks it."""
    if name == "card_directory":
        if "card_holders" not in data.present:
            return None
        # Which issuers hold cards of a person: the association's answer, no card numbers.
        return (
            "SELECT person_ref, issuer, count(*) AS cards FROM card_holders "
            "GROUP BY person_ref, issuer ORDER BY person_ref, issuer"
        )
    if name not in data.present:
        return None
    columns = table(name).column_names
    key = agency.key_column if agency.key_column in columns else None
    where = f'WHERE "{key}" = $agency' if key else ""
    order = ", ".join(f'"{c}"' for c in columns[:2])
    return f'SELECT * FROM "{name}" {where} ORDER BY {order}'


def _date_counts(agency: Agency, part: PartitionedTable, data: _Dataset) -> dict[dt.date, int]:
    counts = data.date_counts(part.source, agency.key_column)
    return counts.get(agency.name if agency.key_column else None, {})


@dataclass
class _Step:
    """One unit of restartable work: write ``final`` by running ``write(tmp)``."""

    final: Path
    rows: int
    write: Callable[[Path], None]


class StoreBuilder:
    """Builds the stores of one dataset; each file or partition is one restartable step."""

    def __init__(
        self, dataset: Path, out: Path, memory_limit: str = "2GB", threads: int = 2
    ) -> None:
        self.dataset = Path(dataset)
        self.out = Path(out)
        self.db = duckdb.connect()
        self.db.execute("SET TimeZone = 'UTC'")
        self.db.execute(f"SET memory_limit = '{memory_limit}'")
        self.db.execute("SET enable_progress_bar = false")  # ours is the one to show
        self.db.execute(f"SET threads = {int(threads)}")
        self.out.mkdir(parents=True, exist_ok=True)
        # Sorting a big partition may spill; keep the spill beside the stores.
        self.db.execute(f"SET temp_directory = {_sql_path(self.out / BUILDING / 'duckdb')}")
        self.data = _Dataset(self.dataset, self.db)
        if not self.data.present:
            raise StoreBuildError(f"{self.dataset} holds no provider table of the data contract")

    def agencies(self, only: Sequence[str] = ()) -> list[Agency]:
        found = discover_agencies(self.data)
        if not only:
            return found
        wanted = {store_folder_name(n) for n in only}
        unknown = wanted - {a.folder for a in found}
        if unknown:
            raise StoreBuildError(
                f"no data for agency {', '.join(sorted(unknown))}; "
                f"known: {', '.join(a.name for a in found)}"
            )
        return [a for a in found if a.folder in wanted]

    def _copy(self, select: str, params: dict[str, object], target: Path, rows: int) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        self.db.execute(
            f"COPY ({select}) TO {_sql_path(target)} "
            f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {rows})",
            params,
        )

    def _steps(self, agency: Agency, manifest: StoreManifest) -> list[_Step]:
        root = self.out / agency.folder
        steps: list[_Step] = []
        for name in agency.small:
            select = _small_query(agency, name, self.data)
            if select is None:
                continue
            params = {"agency": agency.name} if "$agency" in select else {}
            count = self.db.execute(f"SELECT count(*) FROM ({select})", params).fetchall()[0][0]
            manifest.tables[name] = {"rows": count, "layout": "single file"}
            steps.append(
                _Step(
                    root / f"{name}.parquet",
                    count,
                    lambda tmp, s=select, p=params: self._copy(s, p, tmp, DEFAULT_ROW_GROUP_ROWS),
                )
            )
        for part in agency.partitioned:
            counts = _date_counts(agency, part, self.data)
            if not counts:
                continue
            manifest.tables[part.name] = {
                "rows": sum(counts.values()),
                "layout": f"date partitions sorted by {', '.join(part.order)}",
                "partitions": len(counts),
            }
            for day in sorted(counts):
                steps.append(self._partition_step(agency, part, day, counts[day], root))
        return steps

    def _partition_step(
        self, agency: Agency, part: PartitionedTable, day: dt.date, rows: int, root: Path
    ) -> _Step:
        start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        params: dict[str, object] = {"start": start, "end": start + dt.timedelta(days=1)}
        where = "ts >= $start AND ts < $end"
        if agency.key_column:
            where += f' AND "{agency.key_column}" = $agency'
            params["agency"] = agency.name
        order = ", ".join(f'"{c}"' for c in part.order)
        select = f'SELECT * FROM "{part.source}" WHERE {where} ORDER BY {order}'
        group_rows = ROW_GROUP_ROWS.get(part.name, DEFAULT_ROW_GROUP_ROWS)

        def write(tmp: Path) -> None:
            self._copy(select, params, tmp / "part-0.parquet", group_rows)

        return _Step(root / part.name / f"date={day.isoformat()}", rows, write)

    def build(self, only: Sequence[str] = (), force: bool = False) -> list[StoreManifest]:
        """Build (or finish building) the stores; returns their manifests."""
        agencies = self.agencies(only)
        staging = self.out / BUILDING
        shutil.rmtree(staging, ignore_errors=True)  # leftovers of a crashed build
        staging.mkdir(parents=True)
        plans = []
        for agency in agencies:
            manifest = StoreManifest(agency.name, agency.kind)
            plans.append((agency, manifest, self._steps(agency, manifest)))
        total = sum(s.rows for _, _, steps in plans for s in steps)
        manifests = []
        with progress_bar(total, "building stores", unit="rows") as bar:
            for agency, manifest, steps in plans:
                began = time.perf_counter()
                if force:
                    _remove_store_tables(self.out / agency.folder, manifest.tables)
                for step in steps:
                    if not step.final.exists():
                        _run_step(step, staging)
                    bar.update(step.rows)
                _finish_manifest(manifest, steps, time.perf_counter() - began)
                _write_atomically(self.out / agency.folder / MANIFEST, manifest.to_json())
                manifests.append(manifest)
        shutil.rmtree(staging, ignore_errors=True)
        return manifests


def _remove_store_tables(root: Path, tables: Iterable[str]) -> None:
    for name in tables:
        shutil.rmtree(root / name, ignore_errors=True)
        (root / f"{name}.parquet").unlink(missing_ok=True)
    (root / MANIFEST).unlink(missing_ok=True)


def _run_step(step: _Step, staging: Path) -> None:
    """Write into a temporary name, then rename: a partition exists only when complete."""
    tmp = staging / f"{step.final.parent.name}-{step.final.name}-{os.getpid()}"
    if step.final.suffix == ".parquet":
        step.write(tmp)
    else:
        tmp.mkdir(parents=True)
        step.write(tmp)
    step.final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, step.final)


def _finish_manifest(manifest: StoreManifest, steps: list[_Step], seconds: float) -> None:
    days = sorted(s.final.name.removeprefix("date=") for s in steps if s.final.name[:5] == "date=")
    manifest.first_date = days[0] if days else None
    manifest.last_date = days[-1] if days else None
    manifest.built_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    manifest.build_seconds = round(seconds, 2)


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def build_stores(
    dataset: Path | str, out: Path | str, agencies: Sequence[str] = (), force: bool = False
) -> list[StoreManifest]:
    """One provider store per agency from a contract dataset folder (see module doc)."""
    return StoreBuilder(Path(dataset), Path(out)).build(agencies, force=force)


def read_manifest(store: Path | str) -> dict[str, object]:
    """The ``store.json`` of one built store."""
    path = Path(store) / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{store} is not a built provider store (no {MANIFEST})")
    return json.loads(path.read_text())
