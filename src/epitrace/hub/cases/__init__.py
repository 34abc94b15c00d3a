"""Confirmed cases: personal identifiers encrypted per case (envelope encryption)."""
