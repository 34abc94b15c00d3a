"""One subject's records from a dataset folder in the contract's formats, with DuckDB.

This is what ``epitrace analyze DIR`` reads: every agency's tables side by
side in one folder (as the simulator writes them, or as files handed over).
Only the subject's rows are read: DuckDB filters by identifier while scanning,
and the extracted rows are then checked against the contract like any input.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from epitrace.analysis.subject import SubjectRecords
from epitrace.errors import UserInputError
from epitrace.formats.problems import Problem
from epitrace.formats.readers import conform_rows, table_files
from epitrace.formats.schemas import table


class UnknownSubject(UserInputError, LookupError):
    """No provider registry knows this person_ref."""


def _scan(path: Path) -> str:
    quoted = str(path).replace("'", "''")
    if path.suffix == ".parquet":
        return f"read_parquet('{quoted}')"
    # Every CSV column as text: types are checked by the contract readers, not guessed.
    return f"read_csv('{quoted}', all_varchar=true, header=true)"


class DatasetStore:
    """Subject-scoped queries over a dataset folder."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self.problems: list[Problem] = []
        self._db = duckdb.connect()
        self._db.execute("SET TimeZone = 'UTC'")
        self._db.execute("SET enable_progress_bar = false")  # the CLI's own output only

    def _file(self, name: str) -> Path | None:
        files = table_files(self.folder, name)
        return files[0] if files else None

    def has(self, name: str) -> bool:
        return self._file(name) is not None

    def _select(self, name: str, where: str, params: Sequence[object]) -> pa.Table:
        """Rows of table ``name`` matching ``where``, checked against the contract."""
        path = self._file(name)
        if path is None:
            return table(name).arrow_schema.empty_table()
        columns = ", ".join(f'"{c}"' for c in table(name).column_names)
        try:
            raw = self._db.sql(
                f"SELECT {columns} FROM {_scan(path)} WHERE {where}", params=list(params)
            ).to_arrow_table()
        except duckdb.Error as exc:
            self.problems.append(Problem(path.name, 1, "-", f"cannot be queried: {exc}"))
            return table(name).arrow_schema.empty_table()
        loaded = conform_rows(name, raw, f"{path.name} (this subject's rows)")
        self.problems.extend(loaded.problems)
        return loaded.table

    def _in(self, name: str, column: str, values: Sequence[str]) -> pa.Table:
        if not values:
            return table(name).arrow_schema.empty_table()
        marks = ", ".join("?" for _ in values)
        return self._select(name, f'"{column}" IN ({marks})', values)

    def _pairs(self, name: str, columns: tuple[str, str], pairs: list[tuple[str, str]]) -> pa.Table:
        if not pairs:
            return table(name).arrow_schema.empty_table()
        marks = ", ".join("(?, ?)" for _ in pairs)
        where = f'("{columns[0]}", "{columns[1]}") IN ({marks})'
        return self._select(name, where, [v for pair in pairs for v in pair])

    def subject(self, person_ref: str) -> SubjectRecords:
        """Everything every source holds on ``person_ref``."""
        subscribers = self._in("subscribers", "person_ref", [person_ref])
        holders = self._in("card_holders", "person_ref", [person_ref])
        gps = self._in("gps_points", "person_ref", [person_ref])
        if subscribers.num_rows + holders.num_rows + gps.num_rows == 0:
            raise UnknownSubject(
                f"no subscriber, card holder or GPS record for {person_ref!r} in {self.folder}"
            )
        lines = sorted(
            zip(
                subscribers.column("carrier").to_pylist(),
                subscribers.column("subscriber").to_pylist(),
                strict=True,
            )
        )
        cards = sorted(
            zip(
                holders.column("issuer").to_pylist(),
                holders.column("card_id").to_pylist(),
                strict=True,
            )
        )
        telecom = self._pairs("telecom_records", ("carrier", "subscriber"), lines)
        cell_keys = sorted(
            set(
                zip(
                    telecom.column("carrier").to_pylist(),
                    telecom.column("cell_id").to_pylist(),
                    strict=True,
                )
            )
        )
        transactions = self._pairs("card_transactions", ("issuer", "card_id"), cards)
        merchant_ids = sorted(set(transactions.column("merchant_id").to_pylist()))
        return SubjectRecords(
            person_ref=person_ref,
            telecom_records=telecom,
            cells=self._pairs("cells", ("carrier", "cell_id"), cell_keys),
            card_transactions=transactions,
            merchants=self._in("merchants", "merchant_id", merchant_ids),
            transit_taps=self._pairs("transit_taps", ("issuer", "card_id"), cards),
            entry_logs=self._in("entry_logs", "visitor", sorted({s for _, s in lines})),
            gps_points=gps,
        )

    def subjects(self, person_refs: Sequence[str]) -> Iterator[SubjectRecords]:
        """Everything every source holds on each of ``person_refs``, read with one
        query per table for all of them (tracing many cases: one scan of each file,
        not one per person). Yields a ``SubjectRecords`` per person some registry
        knows, in the order given; persons nobody knows are left out."""
        refs = sorted(set(person_refs))
        subscribers = self._in("subscribers", "person_ref", refs)
        holders = self._in("card_holders", "person_ref", refs)
        gps = self._in("gps_points", "person_ref", refs)
        line_pairs = _pairs_of(subscribers, "carrier", "subscriber")
        card_pairs = _pairs_of(holders, "issuer", "card_id")
        telecom = self._pairs("telecom_records", ("carrier", "subscriber"), line_pairs)
        cells = self._pairs(
            "cells", ("carrier", "cell_id"), _pairs_of(telecom, "carrier", "cell_id")
        )
        transactions = self._pairs("card_transactions", ("issuer", "card_id"), card_pairs)
        merchants = self._in(
            "merchants", "merchant_id", sorted(set(transactions.column("merchant_id").to_pylist()))
        )
        taps = self._pairs("transit_taps", ("issuer", "card_id"), card_pairs)
        phones = sorted(set(subscribers.column("subscriber").to_pylist()))
        entries = self._in("entry_logs", "visitor", phones)
        telecom_of = _rows_by_person(telecom, subscribers, ("carrier", "subscriber"))
        cards_of = _rows_by_person(transactions, holders, ("issuer", "card_id"))
        taps_of = _rows_by_person(taps, holders, ("issuer", "card_id"))
        phone_owner = subscribers.select(["subscriber", "person_ref"]).rename_columns(
            ["visitor", "person_ref"]
        )
        entries_of = _rows_by_person(entries, phone_owner, ("visitor",))
        gps_of = _rows_by_person(gps, None, ())
        known = set(subscribers.column("person_ref").to_pylist())
        known |= set(holders.column("person_ref").to_pylist()) | set(gps_of)
        for ref in person_refs:
            if ref not in known:
                continue
            own_telecom = telecom_of.get(ref, _empty("telecom_records"))
            own_cards = cards_of.get(ref, _empty("card_transactions"))
            yield SubjectRecords(
                person_ref=ref,
                telecom_records=own_telecom,
                cells=_registry_rows(cells, own_telecom, ("carrier", "cell_id")),
                card_transactions=own_cards,
                merchants=_registry_rows(merchants, own_cards, ("merchant_id",)),
                transit_taps=taps_of.get(ref, _empty("transit_taps")),
                entry_logs=entries_of.get(ref, _empty("entry_logs")),
                gps_points=gps_of.get(ref, _empty("gps_points")),
            )


def _empty(name: str) -> pa.Table:
    return table(name).arrow_schema.empty_table()


def _pairs_of(rows: pa.Table, first: str, second: str) -> list[tuple[str, str]]:
    return sorted(
        set(zip(rows.column(first).to_pylist(), rows.column(second).to_pylist(), strict=True))
    )


def _rows_by_person(
    rows: pa.Table, registry: pa.Table | None, keys: tuple[str, ...]
) -> dict[str, pa.Table]:
    """``rows`` split by the person each belongs to: through ``registry`` (keys ->
    person_ref), or by their own ``person_ref`` when ``registry`` is None."""
    if rows.num_rows == 0:
        return {}
    if registry is None:
        owned = rows
    else:
        owners = (
            registry.select([*keys, "person_ref"])
            .group_by(list(keys))
            .aggregate([("person_ref", "min")])
            .rename_columns([*keys, "person_ref"])
        )
        owned = rows.join(owners, list(keys), join_type="inner")
    owned = owned.sort_by([("person_ref", "ascending"), ("ts", "ascending")])
    people = owned.column("person_ref").combine_chunks()
    body = owned.select(rows.column_names) if registry is not None else owned
    out: dict[str, pa.Table] = {}
    runs = pc.run_end_encode(people)
    ends = runs.run_ends.to_pylist()
    values = runs.values.to_pylist()
    begin = 0
    for person, end in zip(values, ends, strict=True):
        out[person] = body.slice(begin, end - begin)
        begin = end
    return out


def _registry_rows(registry: pa.Table, rows: pa.Table, keys: tuple[str, ...]) -> pa.Table:
    """The rows of ``registry`` whose ``keys`` appear in ``rows``."""
    if rows.num_rows == 0:
        return registry.slice(0, 0)
    wanted = rows.select(list(keys)).group_by(list(keys)).aggregate([])
    return registry.join(wanted, list(keys), join_type="inner").select(registry.column_names)
