"""A simulated city with ground truth: the test bed, demo data and benchmark data.

``simulate_city(SimulationConfig(residents=..., days=..., seed=...), out)``
writes every table of the data contract (provider stores, interviews, cases)
plus the truth (places, visits, infections) to a folder. Parameters and their
reasoning: docs/simulation.md.
"""

from epitrace.simulate.config import SimulationConfig
from epitrace.simulate.dataset import OutputFolderError
from epitrace.simulate.run import SimulationSummary, simulate_city

__all__ = ["OutputFolderError", "SimulationConfig", "SimulationSummary", "simulate_city"]
