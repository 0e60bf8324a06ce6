"""The Mesa engine: ``MigrationModel`` runs one replication with Mesa agents (``agents.py``), the same month
as the vector engine, value for value."""
from .agents import Destination, Migrant, OriginCountry, TransitCountry
from .model import MigrationModel

__all__ = ["Destination", "Migrant", "MigrationModel", "OriginCountry", "TransitCountry"]
