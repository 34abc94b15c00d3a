"""Setting the hub up for a set of agencies and a simulated city (demo, tests, benchmarks).

In service, an administrator provisions each agency (``epitrace agency add``): its code,
its name in its store, its kind and the tables it may be asked about. Its agent then
introduces its store (``POST /api/agent/hello``) within those bounds: it may describe
its period and which of those tables it holds, never another kind, name or table.
For the demo and the tests the hub is told about every built store at once, and the
simulated city's confirmed cases are registered with synthetic identifiers.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from django.utils.text import slugify

from epitrace.hub.accounts.models import Agency
from epitrace.hub.accounts.regions import region_for
from epitrace.hub.audit.chain import record
from epitrace.hub.cases.models import Case
from epitrace.hub.cases.records import CaseDates, Identifiers, register_case
from epitrace.hub.exchange.models import AgencyProfile
from epitrace.providers.store import MANIFEST

# The hub's agency code for a store: a prefix by kind, then the agency's name.
CODE_PREFIX = {
    "carrier": "carrier-",
    "card_issuer": "card-",
    "card_association": "association-",
    "entry_operator": "entry-",
}
KIND_LABEL = {
    "carrier": "mobile carrier",
    "card_issuer": "card issuer",
    "card_association": "credit-finance association",
    "entry_operator": "entry-log operator",
}


def agency_code(kind: str, name: str) -> str:
    return (CODE_PREFIX[kind] + slugify(name))[:32]


def provision_agency(
    code: str,
    name: str,
    *,
    kind: str,
    store_agency: str,
    tables: list[str] | None = None,
    manifest: dict | None = None,
    by: str,
) -> Agency:
    """Register (or re-provision) an agency: what it is and what it may be asked about.
    Only this sets a profile's name, kind and tables; it is audited."""
    from epitrace.hub.exchange.routing import KIND_TABLES

    if kind not in KIND_TABLES:
        raise ValueError(f"unknown store kind {kind!r}")
    with transaction.atomic():
        agency, _ = Agency.objects.update_or_create(code=code, defaults={"name": name})
        defaults: dict = {
            "store_agency": store_agency,
            "kind": kind,
            "tables": sorted(tables or []),
        }
        if manifest is not None:
            defaults["manifest"] = manifest
        AgencyProfile.objects.update_or_create(agency=agency, defaults=defaults)
        record(
            by,
            "agency.provision",
            object_type="agency",
            object_id=code,
            detail={"kind": kind, "tables": defaults["tables"]},
        )
    return agency


@dataclass(frozen=True)
class StoreAgency:
    code: str
    store: Path
    agency: Agency


def register_store_agencies(stores: Path) -> list[StoreAgency]:
    """An Agency and its profile for every built store under ``stores`` (GPS excluded:
    a patient hands that over, no agency is asked)."""
    found = []
    for manifest_path in sorted(Path(stores).glob(f"*/{MANIFEST}")):
        manifest = json.loads(manifest_path.read_text())
        kind, name = manifest["kind"], manifest["agency"]
        if kind not in CODE_PREFIX:
            continue
        code = agency_code(kind, name)
        keep = {
            k: manifest[k] for k in ("tables", "first_date", "last_date", "policy") if k in manifest
        }
        agency = provision_agency(
            code,
            f"{name} ({KIND_LABEL[kind]})",
            kind=kind,
            store_agency=name,
            tables=sorted(manifest.get("tables", {})),
            manifest=keep,
            by="provisioning",
        )
        found.append(StoreAgency(code, manifest_path.parent, agency))
    return found


def _phones(dataset: Path, person_ref: str) -> list[str]:
    import pyarrow.compute as pc

    from epitrace.formats.readers import read_dataset_table

    loaded = read_dataset_table(dataset, "subscribers")
    if loaded is None:
        return []
    rows = loaded.table.filter(pc.equal(loaded.table.column("person_ref"), person_ref))
    return rows.column("subscriber").to_pylist()


def synthetic_identifiers(dataset: Path, person_ref: str, number: int) -> Identifiers:
    """Made-up identifiers for a simulated person (their phones are the city's own)."""
    return Identifiers(
        name=f"Resident {person_ref}",
        birth_date=dt.date(1960, 1, 1) + dt.timedelta(days=(number * 3571) % 18000),
        national_id=f"{600101 + number % 300000:06d}-{3000000 + number:07d}",
        address=f"{number} Simulated-ro, Simulated City",
        person_ref=person_ref,
        phones=_phones(dataset, person_ref),
    )


def register_dataset_cases(
    dataset: Path, person_refs: list[str] | None = None, *, by: str = "provisioning"
) -> list[Case]:
    """Register the city's confirmed cases (all, or those of ``person_refs``)."""
    from epitrace.formats.readers import read_dataset_table

    loaded = read_dataset_table(dataset, "cases")
    if loaded is None:
        raise FileNotFoundError(f"{dataset} has no cases table")
    wanted = set(person_refs) if person_refs is not None else None
    cases = []
    with transaction.atomic():
        for number, row in enumerate(loaded.table.to_pylist(), start=1):
            if wanted is not None and row["person_ref"] not in wanted:
                continue
            region = region_for(row["region"])
            confirmed = row["confirmed_date"]
            dates = CaseDates(
                specimen_date=confirmed - dt.timedelta(days=1),
                confirmation_date=confirmed,
                isolation_date=confirmed,
                onset_date=row["onset_date"],
            )
            ids = synthetic_identifiers(dataset, row["person_ref"], number)
            cases.append(register_case(region, dates, ids, by=by))
    return cases
