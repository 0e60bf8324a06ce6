"""Country codes the model knows, in one place."""
from __future__ import annotations

ORIGINS: tuple[str, ...] = ("VEN", "CUB", "HTI", "NIC", "HND", "GTM", "SLV", "ECU", "COL", "MEX", "PER")
"""Origin countries (ISO3), in the model's fixed order."""

TRANSIT_COUNTRIES: tuple[str, ...] = ("COL", "PAN", "CRI", "NIC", "HND", "GTM", "MEX")
"""Countries that can run containment (checkpoints, interceptions, deportations)."""

VISA_COUNTRIES: tuple[str, ...] = ("MEX", "NIC")
"""Countries whose visa rules open or close air links in the route graph."""
