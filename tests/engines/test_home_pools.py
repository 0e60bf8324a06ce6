"""Grouped home decisions: the same distribution as per-agent draws, exact bookkeeping, reproducible."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import sim
from sim.core import rules
from sim.core.countries import ORIGINS
from sim.core.inputs import compile_inputs
from sim.core.random import Purpose, replicate_seed, stream_key, uniform
from sim.core.world import build_world
from sim.engines.state import Status
from sim.engines.vector import pools, simulate
from sim.engines.vector.pools import U_STEPS, RunCounts, affordability_cut, savings_at

from helpers import Stepper, small

BUSY = {"hazard": {"intercept": {o: -3.0 for o in ORIGINS}}}
# aid whose lagged effect on savings grows month by month: the affordability threshold moves every month
RISING_AID = {"aid": {"kind": "aid", "start": "2022-02", "origins": ["HND", "GTM"], "budget_usd_per_year": 4e10}}


def test_savings_at_is_the_per_agent_draw():
    """A person's savings from k equal initial_state's: rules.initial_savings of uniform = k / 2**53, as float32."""
    ids = np.arange(5000, dtype=np.uint64)
    key = stream_key(11, 0, Purpose.SAVINGS)
    u = uniform(key, ids)
    k = np.round(u * U_STEPS).astype(np.int64)
    assert np.array_equal(k.astype(np.float64) / U_STEPS, u)        # draws are k / 2**53 exactly
    per_agent = np.empty(ids.size, np.float32)
    per_agent[:] = rules.initial_savings(3000.0, 0.6, 1.2, u)
    assert np.array_equal(savings_at(3000.0, 0.6, 1.2, k), per_agent)


@pytest.mark.parametrize("sigma", [0.3, 1.0, 4.0])
def test_affordability_cut_separates_who_can_afford(sigma):
    rng = np.random.default_rng(3)
    gdp = rng.uniform(500, 20_000, 60)
    k = rng.integers(0, U_STEPS, (60, 400))
    savings = savings_at(gdp[:, None], 0.6, sigma, k)
    # thresholds anywhere, on a person's savings exactly, just above it, none and everyone
    threshold = np.concatenate([rng.uniform(0, 3e4, 30), savings[30:45, 0].astype(np.float64),
                                np.nextafter(savings[45:58, 0].astype(np.float64), np.inf), [np.inf, 0.0]])
    cut = affordability_cut(gdp, 0.6, sigma, threshold)
    assert np.array_equal(rules.can_afford(savings, threshold[:, None]), k >= cut[:, None])
    assert cut[-2] == U_STEPS and cut[-1] == 0
    at_cut = cut < U_STEPS
    assert rules.can_afford(savings_at(gdp, 0.6, sigma, np.minimum(cut, U_STEPS - 1)), threshold)[at_cut].all()
    below = at_cut & (cut > 0)
    assert not rules.can_afford(savings_at(gdp, 0.6, sigma, cut - 1), threshold)[below].any()


def test_splitting_keeps_people_and_tiles_the_draws():
    counts = RunCounts(pools=2, columns=2)
    counts.count[:, :, :, 0] = 1000
    rng = np.random.Generator(np.random.Philox(key=1))
    for cut in ([U_STEPS // 2, U_STEPS // 4], [U_STEPS // 4, U_STEPS // 2], [U_STEPS // 2, U_STEPS], [3, 0]):
        counts.split(np.array(cut, dtype=np.int64), rng)
        K = counts.columns
        for o in range(2):
            used = counts.hi[o, :K] > counts.lo[o, :K]
            lo, hi = np.sort(counts.lo[o, :K][used]), np.sort(counts.hi[o, :K][used])
            assert lo[0] == 0 and hi[-1] == U_STEPS and np.array_equal(lo[1:], hi[:-1])    # a partition
            assert (counts.count[o][..., :K][..., ~used] == 0).all()
            assert (counts.lo[o, :K][used] != cut[o]).sum() == used.sum() - (cut[o] < U_STEPS)
    assert (counts.people() == 16_000).all()
    assert counts.columns == 4 and counts.lo.shape[1] > 2       # three splits; widened past two columns


def test_split_shares_people_by_the_length_of_the_interval():
    shares = []
    for seed in range(300):
        counts = RunCounts(pools=1, columns=3)
        counts.count[0, :, :, 0] = 50
        counts.split(np.array([int(0.3 * U_STEPS)]), np.random.Generator(np.random.Philox(key=seed)))
        shares.append(counts.count[0, :, :, 1].sum() / 800)
    assert np.mean(shares) == pytest.approx(0.7, abs=0.01)
    assert np.var(shares) == pytest.approx(0.7 * 0.3 / 800, rel=0.25)


def leavers_by_run(st: Stepper) -> np.ndarray:
    """People of each run who set out or entered (no longer at home), whatever the engine."""
    if st.batch.grouped:
        rows = st.home.row_positions()
        rows = rows[st.state.status[rows] != Status.HOME]
        return np.bincount(st.batch.run_of(rows), minlength=st.batch.B)
    return (st.state.status != Status.HOME).reshape(st.batch.B, -1).sum(axis=1)


def test_leavers_per_group_follow_the_binomial():
    """One month from the same start: per-agent and grouped leaver counts have the same distribution."""
    scenario = small(agents=4_000, months=1, warmup_months=0, origins=["HND", "GTM"], behaviour=BUSY)
    world = build_world(scenario)
    inputs = compile_inputs(scenario, world)
    seeds = list(range(1, 301))
    counts = {}
    for grouped in (False, True):
        st = Stepper(world, [inputs] * len(seeds), seeds=seeds, grouped=grouped)
        st.advance()
        counts[grouped] = leavers_by_run(st)
    assert counts[False].mean() > 20
    assert stats.ks_2samp(counts[False], counts[True]).pvalue > 1e-3
    assert stats.mannwhitneyu(counts[False], counts[True]).pvalue > 1e-3
    assert counts[True].var() == pytest.approx(counts[False].var(), rel=0.35)


def test_leavers_and_their_savings_follow_per_agent_draws_as_the_threshold_moves():
    """Months of a rising aid budget (the cut moves every month, splitting intervals): who leaves, when, and
    the savings they take with them have the distribution of per-agent draws."""
    scenario = small(agents=3_000, months=10, warmup_months=0, start="2023-01", origins=["HND", "GTM"],
                     behaviour=BUSY, policies=RISING_AID)
    world = build_world(scenario)
    inputs = compile_inputs(scenario, world)
    threshold = inputs.cheapest_route_usd / inputs.savings_multiplier
    assert len(np.unique(threshold[:, 0])) >= 8                     # a new threshold (almost) every month
    seeds = list(range(1, 121))
    months, savings = {}, {}
    for grouped in (False, True):
        st = Stepper(world, [inputs] * len(seeds), seeds=seeds, grouped=grouped)
        months[grouped] = sum(st.advance()["active"] for _ in range(st.months))    # agent-months on the way
        everyone = st.home.row_positions() if grouped else np.arange(st.state.status.size)
        savings[grouped] = st.state.savings[everyone[st.state.status[everyone] != Status.HOME]]
    assert months[False].mean() > 100
    assert stats.ks_2samp(months[False], months[True]).pvalue > 1e-3
    assert savings[False].size > 2_000
    assert stats.ks_2samp(savings[False], savings[True]).pvalue > 1e-3


def test_people_arriving_abroad_join_the_counts_in_their_month_and_leave_as_per_agent():
    """A pool abroad that grows during the run: grouped mode adds the people arriving each month to its counts
    (per-agent mode holds them back with blocked_until), and who leaves from it has the per-agent distribution."""
    pools = {name: None for name in ("VEN_in_PER", "VEN_in_ECU", "VEN_in_CHL", "VEN_in_BRA")}
    pools["VEN_in_COL"] = {"stock": {"2022-12": 1.0e5, "2023-06": 1.0e6}}
    scenario = small(agents=8_000, months=6, warmup_months=0, origins=["VEN"], behaviour=BUSY,
                     world={"pools": pools})
    world = build_world(scenario)
    inputs = compile_inputs(scenario, world)
    p = world.pools.index("VEN_in_COL")
    arrivals = world.arrivals()
    assert arrivals[:, p].sum() == world.agents_per_pool[p] and arrivals[1:, p].sum() > 2 * arrivals[0, p] > 0
    seeds = list(range(1, 151))
    left = {}
    for grouped in (False, True):
        st = Stepper(world, [inputs] * len(seeds), seeds=seeds, grouped=grouped)
        for _ in range(st.months):
            st.advance()
            if grouped:
                rows = st.home.row_positions()
                by_pool = np.zeros((len(seeds), len(world.pools)), np.int64)
                np.add.at(by_pool, (st.batch.run_of(rows), st.state.pool[rows]), 1)
                there = arrivals[:st.step].sum(axis=0)
                assert np.array_equal(st.home.never_left() + by_pool, np.tile(there, (len(seeds), 1)))
        rows = st.home.row_positions() if grouped else np.arange(st.state.status.size)
        gone = rows[(st.state.status[rows] != Status.HOME) & (st.state.pool[rows] == p)]
        left[grouped] = np.bincount(st.batch.run_of(gone), minlength=len(seeds))
    assert left[False].mean() > 20
    assert stats.ks_2samp(left[False], left[True]).pvalue > 1e-3
    a, b = left[False], left[True]
    assert abs(a.mean() - b.mean()) < 4 * np.sqrt(a.var() / len(a) + b.var() / len(b))


def test_outcomes_have_the_same_distribution_in_both_modes():
    """Two-sample tests over 80 seeds on the totals of every national metric and of interceptions."""
    scenario = small(agents=3_000, months=10, warmup_months=2, behaviour=BUSY,
                     policies={"mx": {"kind": "containment", "country": "MEX", "start": "2022-01",
                                      "interception_probability": 0.4, "capacity_per_month": 3e5},
                               "us": {"kind": "enforcement", "start": "2022-01", "apprehension_probability": 0.8,
                                      "outcome": {"expel_to_mexico": 0.4, "remove_to_origin": 0.2, "release": 0.4}},
                               "cbp": {"kind": "legal_pathway", "pathway": "appointments", "start": "2022-01",
                                       "places_per_month": 30_000}})
    world = build_world(scenario)
    inputs = compile_inputs(scenario, world)
    seeds = [replicate_seed(99, r) for r in range(80)]
    totals = {}
    for grouped in (False, True):
        c = simulate(world, [inputs] * len(seeds), seeds, grouped=grouped)
        totals[grouped] = pd.DataFrame({m: v.sum(axis=(1, 2)) for m, v in c.national.items()}
                                       | {"intercepted": c.located["intercepted"].sum(axis=(1, 2, 3)),
                                          "active": c.active.sum(axis=1)})
    for metric in totals[False]:
        a, b = totals[False][metric], totals[True][metric]
        assert a.mean() > 0, metric
        assert stats.ks_2samp(a, b).pvalue > 1e-3, metric
        assert abs(a.mean() - b.mean()) < 4 * np.sqrt(a.var() / len(a) + b.var() / len(b)) + 1e-9, metric


def test_grouped_books_balance_every_month():
    scenario = small(agents=3_000, months=12, warmup_months=2, behaviour=BUSY,
                     policies={"us": {"kind": "enforcement", "start": "2022-01", "apprehension_probability": 0.9,
                                      "outcome": {"expel_to_mexico": 0.3, "remove_to_origin": 0.5, "release": 0.2},
                                      "reentry_bar_months": 2},
                               "mx": {"kind": "containment", "country": "MEX", "start": "2022-01",
                                      "interception_probability": 0.5, "capacity_per_month": 1e7,
                                      "outcome": {"deport": 0.5, "hold": 0.3, "pushback": 0.2}}, **RISING_AID})
    st = Stepper(scenario, seeds=[5, 6, 7], grouped=True)
    home, state, batch = st.home, st.state, st.batch
    entered = 0
    for _ in range(st.months):
        month = st.advance()
        rows = home.row_positions()
        run = batch.run_of(rows)
        status = state.status[rows]
        # everyone who lives in their pool by now is counted once: never left (counts) + rows, by run and pool
        by_pool = np.zeros((batch.B, batch.O), np.int64)
        np.add.at(by_pool, (run, state.pool[rows]), 1)
        there = st.world.arrivals()[:st.step].sum(axis=0)
        assert np.array_equal(home.never_left() + by_pool, np.tile(there, (batch.B, 1)))
        # every row is in exactly one place: side pool, barred, on the way, or arrived / dead
        settled = rows[np.isin(status, [Status.ENTERED_IRREGULAR, Status.ENTERED_LEGAL, Status.DEAD])]
        assert np.array_equal(np.sort(np.concatenate([home.side, home.barred, home.movers, settled])), rows)
        assert np.array_equal(home.movers, rows[(status == Status.TRANSIT) | (status == Status.BORDER)])
        assert set(state.status[home.side].tolist()) <= {Status.HOME, Status.RETURNED}
        assert (state.status[home.barred] == Status.RETURNED).all()
        assert (state.blocked_until[home.side] <= st.step).all()
        assert np.array_equal(month["in_transit"].sum(axis=2), np.stack(
            [np.bincount(state.pool[home.movers[batch.run_of(home.movers) == b]], minlength=batch.O)
             for b in range(batch.B)]))
        entered += month["entries_irregular"] + month["entries_legal"]
        arrived = rows[(status == Status.ENTERED_IRREGULAR) | (status == Status.ENTERED_LEGAL)]
        np.add.at(by_pool := np.zeros_like(by_pool), (batch.run_of(arrived), state.pool[arrived]), 1)
        assert np.array_equal(entered, by_pool)
    assert (state.status[home.row_positions()] == Status.RETURNED).any()
    assert home.runs[0].columns > 5                    # the aid ramp split the intervals


def test_grouped_month_checks_of_the_per_agent_engine_hold_on_the_rows():
    scenario = small(agents=2_000, months=8, warmup_months=1, behaviour=BUSY)
    st = Stepper(scenario, seeds=[8], grouped=True)
    months = run_checked_rows(st)
    assert sum(m["encounters"].sum() for m in months) > 0


def run_checked_rows(st: Stepper) -> list[dict]:
    """Month by month: rows of people on the way hold a route of their pool; absorbing states stay put."""
    out, before = [], {}
    for _ in range(st.months):
        out.append(st.advance())
        rows = st.home.row_positions()
        status, world = st.state.status[rows], st.world
        on_way = rows[(status == Status.TRANSIT) | (status == Status.BORDER)]
        assert np.all(world.route_pool[st.state.route[on_way]] == st.state.pool[on_way])
        assert np.all(st.state.leg[on_way] < world.route_length[st.state.route[on_way]])
        assert np.all(st.state.savings[rows] >= 0)
        for row, was in before.items():
            if was in (Status.DEAD, Status.ENTERED_IRREGULAR, Status.ENTERED_LEGAL):
                assert st.state.status[row] == was
        before = dict(zip(rows.tolist(), status.tolist(), strict=True))
    return out


def test_grouped_is_reproducible_and_independent_of_batching():
    scenario = small(agents=2_000, months=6, behaviour=BUSY)
    world = build_world(scenario)
    inputs = compile_inputs(scenario, world)
    together = simulate(world, [inputs] * 3, [1, 2, 3], grouped=True)
    for b, seed in enumerate([1, 2, 3]):
        alone = simulate(world, [inputs], [seed], grouped=True)
        for metric, values in alone.national.items():
            np.testing.assert_array_equal(values[0], together.national[metric][b], err_msg=metric)
        for metric, values in alone.located.items():
            np.testing.assert_array_equal(values[0], together.located[metric][b], err_msg=metric)
        np.testing.assert_array_equal(alone.active[0], together.active[b])


def test_table_growth_moves_nobody(monkeypatch):
    """A table that starts tiny and grows many times gives the same numbers as one that never grows."""
    scenario = small(agents=2_000, months=6, behaviour=BUSY)
    world = build_world(scenario)
    inputs = compile_inputs(scenario, world)
    roomy = simulate(world, [inputs] * 2, [4, 5], grouped=True)
    monkeypatch.setattr(pools, "FIRST_ROWS", 3)
    cramped = simulate(world, [inputs] * 2, [4, 5], grouped=True)
    for metric in roomy.national:
        np.testing.assert_array_equal(roomy.national[metric], cramped.national[metric], err_msg=metric)
    np.testing.assert_array_equal(roomy.located["in_transit"], cramped.located["in_transit"])
    assert roomy.national["encounters"].sum() > 0


def test_rows_only_for_people_who_left():
    """The grouped engine holds a row for each person who has left, not for each agent."""
    scenario = small(agents=50_000, months=6, warmup_months=0)
    st = Stepper(scenario, seeds=[2], grouped=True)
    st.run()
    rows = st.home.row_positions()
    assert 0 < rows.size < 50_000 // 10
    assert st.state.status.size <= max(pools.FIRST_ROWS, pools.GROWTH * rows.size) + 1
    assert (st.home.never_left().sum() + rows.size) == 50_000


def test_grouped_engine_from_the_api_and_cli(tmp_path):
    from sim.cli import main
    from sim.outputs.files import read_provenance

    scenario = small(agents=1_500, months=4, replications=2, behaviour=BUSY)
    a = sim.run(scenario, engine="grouped").to_frame()
    b = sim.run(scenario, engine="grouped").to_frame()
    pd.testing.assert_frame_equal(a, b)
    path = tmp_path / "s.yaml"
    path.write_text("schema_version: 1\nname: g\nagents: 800\nmonths: 3\nreplications: 1\n")
    assert main(["run", str(path), "--engine", "grouped", "--quiet", "--out", str(tmp_path / "out")]) == 0
    assert read_provenance(tmp_path / "out" / "outcomes.parquet")["engine"] == "grouped"


def test_a_table_that_would_outgrow_memory_is_refused(monkeypatch):
    """The grouped engine checks memory again each time its table of rows grows (ResourceError, no crash)."""
    from sim.core.errors import ResourceError
    from sim.engines import memory
    from sim.engines.vector import loop

    monkeypatch.setattr(memory, "available_bytes", lambda: 2**20)
    memory.check_growth(2**19)
    with pytest.raises(ResourceError, match="table of people who have left needs"):
        memory.check_growth(2**21)
    scenario = small(agents=400_000, months=3, warmup_months=0, behaviour=BUSY)
    world = build_world(scenario)
    inputs = compile_inputs(scenario, world)
    monkeypatch.setattr(loop, "check_memory", lambda *args: None)     # let the run start, then grow
    with pytest.raises(ResourceError, match="Use fewer agents"):
        simulate(world, [inputs], [1], grouped=True)


def test_the_estimate_of_grouped_mode_bounds_a_run_where_everyone_leaves():
    """estimate_bytes(grouped) allows a row and a list place for every agent: an upper bound on the table."""
    from sim.engines.vector import estimate_bytes

    scenario = small(agents=20_000, months=4, warmup_months=0, behaviour={"hazard": {"intercept": {
        o: 6.0 for o in ORIGINS}}})
    st = Stepper(scenario, seeds=[3], grouped=True)
    st.run()
    assert st.home.row_positions().size > 15_000                 # nearly everyone who can afford it left
    assert st.home.nbytes() <= estimate_bytes(20_000, 1, "grouped")
