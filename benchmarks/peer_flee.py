"""Peer benchmark: Flee (the refugee-movement agent-based model) on its Mali 2012 case.

Usage: python benchmarks/peer_flee.py [--days 300] [--agents-scale 1.0] [--seed 0] [--case-dir DIR]
Needs Flee (``pip install 'migsim[peers]'``) and the case's data files (default
``../shared/peers/flee_mali`` beside the project: ``input/`` CSVs, ``validation/`` UNHCR camp counts,
``simsetting.yml``; or set ``MIGSIM_FLEE_CASE``). Prints one JSON object.

Flee is driven through its own Python API, the way its ``runscripts/run.py`` does it:
``SimulationSettings.ReadFromYML``, ``InputGeography`` (conflicts, locations, routes,
closures) stored in an ``Ecosystem``, a ``RefugeeTable`` of UNHCR counts with registration
corrections, day-0 refugees placed in camps; then each simulated day:
``AddNewConflictZones``, ``spawn_daily_displaced`` (new agents in conflict zones, as many as
the UNHCR total grew that day), ``refresh_spawn_weights``, ``enact_border_closures``,
``evolve``.

One Flee agent-step is one agent advanced by one simulated day: a move decision at its
location (leave with the location's move chance; if leaving, pick a route over the linked
locations, weighted by distance and destination type), then travel along the link up to
the day's speed (360 km/day by default), continuing from a reached location while distance
is left. migsim's agent-step is one agent advanced by one month, so the two rates compare
throughput per agent-step, not per simulated person-time (one month is about 30 Flee steps).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import sys
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

DEFAULT_CASE = Path(os.environ.get("MIGSIM_FLEE_CASE",
                                   Path(__file__).resolve().parents[2] / "shared" / "peers" / "flee_mali"))
INSTALL_HINT = "Flee is not installed: pip install 'migsim[peers]'"
ARD_DEFINITION = ("Flee's averaged relative difference, as its postprocessing computes it: each simulated "
                  "day, sum over camps of |simulated - UNHCR| / max(sum over camps of UNHCR, 1), averaged "
                  "over the simulated days (UNHCR counts interpolated daily by Flee's RefugeeTable). 'ard' "
                  "first scales each day's simulated camp counts to that day's UNHCR camp total (Flee's "
                  "'Error (rescaled)', the curve its plots label 'Averaged relative difference'); "
                  "'ard_not_rescaled' uses the simulated counts as they are (Flee's 'Error (normal)')")


class FleeMissing(RuntimeError):
    """Flee (the optional ``peers`` extra) cannot be imported."""


def _import_flee():
    """Flee's modules used here, or FleeMissing with the install hint."""
    try:
        from flee import InputGeography, flee, spawning
        from flee.datamanager import handle_refugee_data, read_period
        from flee.postprocessing import analysis
    except ImportError as exc:
        raise FleeMissing(INSTALL_HINT) from exc
    return flee, spawning, InputGeography, handle_refugee_data, read_period, analysis


def _scale_down_factor(agents_scale: float) -> int:
    """Flee's whole-number population scale-down factor ("hasten") for a fraction of agents."""
    if not 0 < agents_scale <= 1:
        raise ValueError(f"agents_scale must be in (0, 1], got {agents_scale}")
    factor = round(1 / agents_scale)
    if not math.isclose(factor * agents_scale, 1.0, rel_tol=1e-6):
        raise ValueError(f"agents_scale must be 1/n for a whole n (Flee scales populations down "
                         f"by whole factors), got {agents_scale}")
    return factor


def _averaged_relative_differences(simulated: np.ndarray, observed: np.ndarray, analysis) -> dict:
    """Flee's ARD, plain and rescaled, from (days x camps) simulated and UNHCR camp counts (people)."""
    camp_total = observed.sum(axis=1)
    sim_total = simulated.sum(axis=1, keepdims=True)
    rescaled = np.divide(simulated * camp_total[:, None], sim_total,
                         out=np.zeros_like(simulated), where=sim_total > 0)
    denominator = np.maximum(camp_total, 1.0)
    plain = analysis.abs_diffs(simulated, observed).sum(axis=1) / denominator
    scaled = analysis.abs_diffs(rescaled, observed).sum(axis=1) / denominator
    return {"ard": round(float(scaled.mean()), 4), "ard_not_rescaled": round(float(plain.mean()), 4)}


def measure_flee(days: int | None = None, agents_scale: float = 1.0, seed: int = 0,
                 case_dir: Path | str = DEFAULT_CASE, quiet: bool = True) -> dict:
    """Run Flee's Mali 2012 case in this process and time its simulation loop.

    days: simulated days (default: the case's period, 300 days from 2012-02-29).
    agents_scale: fraction of agents, 1/n for a whole n; Flee divides populations and the
    UNHCR counts by n (its "hasten" setting), so the ARD stays comparable.
    seed: seeds Python's and NumPy's global generators (Flee draws from both); their
    previous states are restored afterwards.
    quiet: hide Flee's console chatter (it writes to stdout and stderr).
    Returns a dict: agent_days (agent-steps: agents present each day, summed over days),
    seconds (wall time of the daily loop only, reading the files excluded), cpu_seconds
    (this process's CPU time over the same loop: the fairer figure on a shared machine),
    agent_steps_per_second, ns_per_agent_step, agents_at_end, ard and ard_not_rescaled (see ARD_DEFINITION),
    flee_version and the run's settings.
    """
    flee, spawning, InputGeography, handle_refugee_data, read_period, analysis = _import_flee()
    case = Path(case_dir)
    inputs, validation = case / "input", case / "validation"
    if not (inputs / "locations.csv").is_file():
        raise FileNotFoundError(f"{inputs / 'locations.csv'}: Flee Mali case not found (set MIGSIM_FLEE_CASE)")
    factor = _scale_down_factor(agents_scale)
    settings = flee.SimulationSettings
    saved_random, saved_numpy = random.getstate(), np.random.get_state()
    sink = contextlib.ExitStack()
    if quiet:
        devnull = sink.enter_context(open(os.devnull, "w"))
        sink.enter_context(contextlib.redirect_stdout(devnull))
        sink.enter_context(contextlib.redirect_stderr(devnull))
    try:
        with sink:
            random.seed(seed)
            np.random.seed(seed)
            start_date, period = read_period.read_conflict_period(str(inputs / "sim_period.csv"))
            end_time = period if days is None else days
            if not 0 < end_time <= period:
                raise ValueError(f"days must be in 1..{period} (the case's period), got {days}")
            settings.ReadFromYML(str(case / "simsetting.yml"))
            settings.optimisations["PopulationScaleDownFactor"] = factor
            settings.ConflictInputFile = str(inputs / "conflicts.csv")
            # Flee's spawning keeps the running UNHCR total and the spawn debt in module
            # globals; a second run in the same process must start from zero like the first.
            setattr(spawning, "__refugees_raw", 0)
            setattr(spawning, "__refugee_debt", 0)

            e = flee.Ecosystem()
            ig = InputGeography.InputGeography()
            ig.ReadConflictInputCSV(settings.ConflictInputFile)
            ig.ReadLocationsFromCSV(str(inputs / "locations.csv"))
            ig.ReadLinksFromCSV(str(inputs / "routes.csv"))
            ig.ReadClosuresFromCSV(str(inputs / "closures.csv"))
            e, lm = ig.StoreInputGeographyInEcosystem(e)
            d = handle_refugee_data.RefugeeTable(
                csvformat="generic", data_directory=str(validation), start_date=start_date,
                data_layout="data_layout.csv", population_scaledown_factor=factor)
            d.ReadL1Corrections(str(inputs / "registration_corrections.csv"))
            camps = e.get_camp_names()
            for name in camps:
                spawning.add_initial_refugees(e, d, lm[name])

            seconds = cpu_seconds = 0.0
            agent_days = 0
            simulated, observed = [], []      # per day, per camp
            for t in range(end_time):
                tick, cpu_tick = time.perf_counter(), time.process_time()
                ig.AddNewConflictZones(e, t)
                spawning.spawn_daily_displaced(e, t, d)
                spawning.refresh_spawn_weights(e)
                e.enact_border_closures(t)
                stepped = e.numAgents()
                e.evolve()
                seconds += time.perf_counter() - tick
                cpu_seconds += time.process_time() - cpu_tick
                agent_days += stepped
                simulated.append([lm[name].numAgents for name in camps])
                observed.append([d.get_field(name, t) for name in camps])
            agents_at_end = e.numAgents()
    finally:
        random.setstate(saved_random)
        np.random.set_state(saved_numpy)
    return {"model": "flee", "case": "mali2012", "start_date": start_date, "days": end_time,
            "agents_scale": agents_scale, "seed": seed,
            "agent_days": agent_days, "seconds": round(seconds, 3),
            "cpu_seconds": round(cpu_seconds, 3),
            "agent_steps_per_second": round(agent_days / seconds),
            "ns_per_agent_step": round(seconds / agent_days * 1e9, 1),
            "agents_at_end": agents_at_end, "mean_agents": round(agent_days / end_time), "camps": len(camps),
            **_averaged_relative_differences(np.array(simulated, float), np.array(observed, float), analysis),
            "ard_definition": ARD_DEFINITION,
            "flee_version": version("flee")}


def main(argv: list[str] | None = None) -> int:
    """Command line: run the case and print the measurement as JSON; 2 if Flee or the data is missing."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=None, help="simulated days (default: the case's 300)")
    parser.add_argument("--agents-scale", type=float, default=1.0, help="fraction of agents, 1/n (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--case-dir", type=Path, default=DEFAULT_CASE)
    args = parser.parse_args(argv)
    try:
        result = measure_flee(args.days, args.agents_scale, seed=args.seed, case_dir=args.case_dir)
    except (FleeMissing, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
