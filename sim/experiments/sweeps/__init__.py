"""Parameter sweeps: many scenario variants run in batches, stored as they finish, analysed with SALib.

``run_sweep(path)`` runs (or resumes) the ``sweep:`` block of a scenario file into
``results/<name>/``; ``load_results(folder)`` reads the tidy table back;
``analyze(folder)`` computes sensitivity indices and draws the plots;
``load_sweep_result(folder)`` gives the folder as a ``SweepResult`` (table, totals per
point, outcome curves). The command line
equivalents are ``migsim sweep`` and ``migsim analyze`` (docs/sweeps.md).
"""
from .analyze import analyze
from .design import Design, build_design
from .execute import SweepSummary, run_sweep
from .result import SweepResult, load_sweep_result
from .spec import SweepFile, SweepSpec, load_sweep
from .store import load_results

__all__ = ["Design", "SweepFile", "SweepResult", "SweepSpec", "SweepSummary", "analyze", "build_design",
           "load_results", "load_sweep", "load_sweep_result", "run_sweep"]
