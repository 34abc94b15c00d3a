"""epitrace: epidemiological investigation support."""

__version__ = "0.1.0"
