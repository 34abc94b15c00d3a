"""Links between cases: who may have infected whom, chains and clusters of cases,
and the transmission statistics read from them (``docs/links.md``).

- ``propose_links`` (``propose.py``): ordered pairs source -> target from many
  cases' stays and contact lists, with their evidence and a score;
- ``chains_of`` (``chains.py``): links above a threshold join cases into
  chains; each case's generation; each chain's shared places and dates;
- ``serial_interval`` and ``offspring`` (``transmission.py``): onset-to-onset
  intervals along links and the offspring distribution (mean R, dispersion k).
"""

from __future__ import annotations

from epitrace.analysis.links.chains import Chains, chains_of
from epitrace.analysis.links.params import LinkParams
from epitrace.analysis.links.propose import LinkInputError, LinkProposal, propose_links
from epitrace.analysis.links.transmission import (
    Offspring,
    SerialInterval,
    offspring,
    offspring_counts,
    serial_interval,
)

__all__ = [
    "Chains",
    "LinkInputError",
    "LinkParams",
    "LinkProposal",
    "Offspring",
    "SerialInterval",
    "chains_of",
    "offspring",
    "offspring_counts",
    "propose_links",
    "serial_interval",
]
