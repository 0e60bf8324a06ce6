"""Comparing scenarios: study files, paired differences, cost-effectiveness, figures and one report.

``compare``, ``Comparison``, ``load_comparison``, ``Study``, ``StudyFile`` and ``load_study`` are
imported on first use (figures load matplotlib).
"""
from __future__ import annotations

import importlib

_EXPORTS = {"Comparison": "comparison", "compare": "comparison", "load_comparison": "comparison",
            "Study": "study", "StudyFile": "study", "load_study": "study"}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
