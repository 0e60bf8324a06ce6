"""Parameter sweeps: many scenario variants run in batches, stored as they finish, analysed with SALib.

``run_sweep(path)`` runs (or resumes) the ``sweep:`` block of a scenario file into
``results/<name>/``; ``load_results(folder)`` reads the tidy table back;
``analyze(folder)`` computes sensitivity indices and draws the plots. The command line
equivalents are ``migsim sweep`` and ``migsim analyze`` (docs/sweeps.md).
"""
from .design import Design, build_design
from .execute import SweepSummary, run_sweep
from .spec import SweepFile, SweepSpec, load_sweep
from .store import load_results

__all__ = ["run_sweep", "load_results", "load_sweep", "build_design", "Design", "SweepFile", "SweepSpec",
           "SweepSummary", "analyze"]


def analyze(path, out=None, plots=True):
    """Sensitivity indices, outcome table and plots of a sweep folder (see ``sim.sweep.analyze``)."""
    from .analyze import analyze as _analyze

    return _analyze(path, out=out, plots=plots)
