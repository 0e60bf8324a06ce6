"""Engine cost in fair units: per agent-step and per active agent-step, against Mesa and Flee, in CPU time.

Usage: python benchmarks/bench_engine.py [--same 5000 50000] [--large 1e6 1e7] [--months 120] [--repeats 5]
                                        [--flee-days 300] [--flee-engines grouped vector] [--skip-mesa]
                                        [--skip-flee]

Every migsim figure is ``baseline.yaml``, one replication, ``--months`` reported months plus
the 6 warm-up months, each run in a child process of its own (``bench_memory.run_child``:
an address-space limit, and the child's own peak resident set). Times are CPU seconds of
the simulation (``time.process_time``: building the world and compiling the inputs
excluded), which a loaded machine disturbs far less than wall-clock seconds.

Units:

- agent-step: one agent advanced by one month (migsim, Mesa) or one day (Flee);
- active agent-step: an agent on the way or waiting at the US border at the start of the
  month (``Counts.active``: the people the transit and border phases act on). Every Flee
  agent is displaced and takes a move decision every day, so all Flee agent-steps are active.

Figures printed (one JSON object a line, then the tables of docs/benchmarks.md):

1. Mesa, the per-agent vector engine and the grouped engine on the same scenario at the
   same two sizes (``--same``): CPU seconds, agent-steps, active agent-steps, and the
   marginal cost (the slope between the two sizes, so start-up costs cancel) per
   agent-step and per active agent-step; the ratios of Mesa to each vector mode.
2. The vector modes at two large sizes (``--large``): throughput and marginal cost.
3. Flee's Mali case (``peer_flee.py``, ``--flee-days``), CPU seconds per agent-day, and
   migsim at the number of agents whose mean number of active agents equals Flee's mean
   number of agents (found from the active share of the largest ``--large`` run), CPU
   seconds per active agent-step.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from bench_memory import run_child

ROOT = Path(__file__).resolve().parents[1]
DAYS_PER_MONTH = 365.25 / 12
LIMIT_BYTES = 12 << 30


def measure(agents: int, months: int, engine: str, repeats: int = 1) -> dict:
    """One replication of baseline.yaml with ``engine`` (vector, grouped or mesa), in this process.

    With ``repeats`` > 1 the simulation runs that many times (after one untimed run) and the
    least CPU time counts (the usual way to time short runs on a busy machine).
    """
    import sim
    from sim.core.inputs import compile_inputs
    from sim.core.random import replicate_seed
    from sim.core.world import build_world

    scenario = sim.load_scenario(ROOT / "scenarios" / "baseline.yaml").with_overrides(
        agents=agents, months=months, replications=1)
    world = build_world(scenario)
    inputs = compile_inputs(scenario, world)
    seed = replicate_seed(scenario.seed, 0)
    if engine == "mesa":
        from sim.engines.mesa import MigrationModel

        def simulate_once():
            return MigrationModel(scenario, 0, world, inputs).run()
    else:
        from sim.engines.vector import simulate

        def simulate_once():
            return simulate(world, [inputs], [seed], grouped=engine == "grouped")
    if repeats > 1:
        simulate_once()
    times = []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        counts = simulate_once()
        times.append((time.process_time() - cpu, time.perf_counter() - wall))
    cpu, wall = min(times)
    T = len(inputs.calendar)
    active = int(counts.active.sum())
    return {"engine": engine, "agents": agents, "months_simulated": T, "cpu_seconds": round(cpu, 4),
            "wall_seconds": round(wall, 4), "repeats": repeats, "agent_steps": agents * T,
            "active_agent_steps": active, "active_share": round(active / (agents * T), 6),
            "mean_active_agents": round(active / T, 1), "ns_per_agent_step": round(cpu / (agents * T) * 1e9, 2),
            "ns_per_active_agent_step": round(cpu / max(active, 1) * 1e9, 1),
            "encounters": int(counts.national["encounters"].sum())}


def run_one(agents: int, months: int, engine: str, repeats: int = 1) -> dict:
    """``measure`` in a child process; with the child's peak resident set and the load average."""
    row, peak = run_child(["--one", "--agents", str(agents), "--months", str(months), "--engine", engine,
                           "--repeats", str(repeats)], LIMIT_BYTES, __file__)
    row["peak_rss_mib"] = round(peak / 2**20, 1)
    row["load_average"] = round(os.getloadavg()[0], 1)
    print(json.dumps(row), flush=True)
    return row


def slope(small: dict, large: dict) -> dict:
    """Marginal CPU cost between two sizes of one engine: per agent-step and per active agent-step (ns)."""
    d_cpu = large["cpu_seconds"] - small["cpu_seconds"]
    return {"engine": small["engine"], "between_agents": [small["agents"], large["agents"]],
            "marginal_ns_per_agent_step": round(d_cpu / (large["agent_steps"] - small["agent_steps"]) * 1e9, 2),
            "marginal_ns_per_active_agent_step": round(
                d_cpu / max(large["active_agent_steps"] - small["active_agent_steps"], 1) * 1e9, 1)}


def run_flee(days: int) -> dict | None:
    """Flee's Mali case through ``peer_flee.py`` in a child process (None when Flee or its data is missing)."""
    out = subprocess.run([sys.executable, str(Path(__file__).with_name("peer_flee.py")), "--days", str(days)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        print(json.dumps({"flee": "skipped", "reason": out.stderr.strip()[-300:]}), flush=True)
        return None
    peer = json.loads(out.stdout)
    peer["cpu_ns_per_agent_step"] = round(peer["cpu_seconds"] / peer["agent_days"] * 1e9, 1)
    peer["load_average"] = round(os.getloadavg()[0], 1)
    print(json.dumps({k: v for k, v in peer.items() if k != "ard_definition"}), flush=True)
    return peer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--same", type=int, nargs=2, default=[5_000, 50_000], help="sizes run by all three engines")
    parser.add_argument("--large", type=float, nargs=2, default=[1e6, 1e7], help="sizes run by the vector modes")
    parser.add_argument("--months", type=int, default=120)
    parser.add_argument("--repeats", type=int, default=5,
                        help="runs of each vector measurement at the --same sizes (least CPU time)")
    parser.add_argument("--flee-days", type=int, default=300)
    parser.add_argument("--flee-engines", nargs="*", default=["grouped", "vector"], choices=["grouped", "vector"])
    parser.add_argument("--skip-mesa", action="store_true")
    parser.add_argument("--skip-flee", action="store_true")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--agents", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--engine", default="vector", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.agents, args.months, args.engine, args.repeats)))
        return
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"load average at the start {os.getloadavg()[0]:.1f}", flush=True)
    engines = ["vector", "grouped"] + ([] if args.skip_mesa else ["mesa"])
    same = {e: [run_one(n, args.months, e, 1 if e == "mesa" else args.repeats) for n in args.same] for e in engines}
    slopes = {e: slope(*rows) for e, rows in same.items()}
    for row in slopes.values():
        print(json.dumps(row), flush=True)
    large = {e: [run_one(int(n), args.months, e, 1) for n in args.large] for e in ("vector", "grouped")}
    large_slopes = {e: slope(*rows) for e, rows in large.items()}
    for row in large_slopes.values():
        print(json.dumps({**row, "sizes": "large"}), flush=True)
    flee = None if args.skip_flee else run_flee(args.flee_days)
    at_flee = {}
    if flee is not None:
        share = large["grouped"][-1]["active_share"]
        agents = int(round(flee["mean_agents"] / share, -5))
        print(json.dumps({"flee_mean_agents": flee["mean_agents"], "migsim_active_share": share,
                          "migsim_agents_for_as_many_active": agents}), flush=True)
        at_flee = {e: run_one(agents, args.months, e, 1) for e in args.flee_engines}
    print_tables(same, slopes, large, large_slopes, flee, at_flee)


def print_tables(same: dict, slopes: dict, large: dict, large_slopes: dict, flee: dict | None,
                 at_flee: dict) -> None:
    """The tables of docs/benchmarks.md, in Markdown."""
    print("\n| engine | agents | CPU s | agent-steps | active agent-steps | ns / agent-step | ns / active agent-step |"
          "\n|---|---:|---:|---:|---:|---:|---:|")
    for rows in (*same.values(), *large.values(), *([at_flee[e]] for e in at_flee)):
        for r in rows:
            print(f"| {r['engine']} | {r['agents']:,} | {r['cpu_seconds']:.3f} | {r['agent_steps']:,} | "
                  f"{r['active_agent_steps']:,} | {r['ns_per_agent_step']:,.1f} | "
                  f"{r['ns_per_active_agent_step']:,.0f} |")
    if flee:
        print(f"| Flee {flee['flee_version']} Mali ({flee['days']} days) | {flee['mean_agents']:,} on average "
              f"({flee['agents_at_end']:,} at the end) | {flee['cpu_seconds']:.1f} | {flee['agent_days']:,} | "
              f"{flee['agent_days']:,} | {flee['cpu_ns_per_agent_step']:,.0f} | {flee['cpu_ns_per_agent_step']:,.0f} |")
    print("\n| marginal (slope) | between | ns / agent-step | ns / active agent-step |\n|---|---|---:|---:|")
    for rows in (slopes, large_slopes):
        for s in rows.values():
            print(f"| {s['engine']} | {s['between_agents'][0]:,} and {s['between_agents'][1]:,} | "
                  f"{s['marginal_ns_per_agent_step']:,.1f} | {s['marginal_ns_per_active_agent_step']:,.0f} |")
    print("\n| ratio | value |\n|---|---:|")
    if "mesa" in slopes:
        for e in ("vector", "grouped"):
            for unit in ("agent_step", "active_agent_step"):
                ratio = slopes["mesa"][f"marginal_ns_per_{unit}"] / slopes[e][f"marginal_ns_per_{unit}"]
                print(f"| Mesa / {e}, marginal CPU per {unit.replace('_', ' ')}, same sizes | {ratio:,.0f} |")
    if flee:
        for e, r in at_flee.items():
            ratio = flee["cpu_ns_per_agent_step"] / r["ns_per_active_agent_step"]
            print(f"| Flee / {e} ({r['agents']:,} agents, {r['mean_active_agents']:,.0f} active), CPU per active "
                  f"agent-step | {ratio:,.2f} |")
            print(f"| Flee / {e}, CPU per active agent-day (a month counted as {DAYS_PER_MONTH:.1f} days) | "
                  f"{ratio * DAYS_PER_MONTH:,.1f} |")


if __name__ == "__main__":
    main()
