"""Direction and bounds of every behavioural formula in sim.core.rules."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sim.core import rules

FAST = settings(max_examples=60, deadline=None)
finite = st.floats(-30, 30, allow_nan=False, allow_infinity=False)
prob = st.floats(0, 1, allow_nan=False)
unit = st.floats(0, 1, allow_nan=False, exclude_max=True)


def leave(inflation=50.0, violence=20.0, repression=50.0, success=0.5, tie=0, parole_open=0, level=3,
          journey_risk=0.002, intercept=-6.0, diaspora=1e6, population=1e7):
    """Leave probability with the default coefficients of sim.core.parameters."""
    shared = (rules.origin_logit(intercept, 0.35, 0.30, 1.0, 2.0, inflation, violence, repression, success)
              + rules.network_logit(0.25, diaspora, population))
    return rules.leave_probability(shared, 1.0, 1.0, 0.6, tie, parole_open, level, journey_risk)


# ----------------------------------------------------------------- the decision to leave

@pytest.mark.parametrize("driver", ["inflation", "violence", "repression", "success", "diaspora"])
def test_leave_probability_rises_with_each_push_and_pull_factor(driver):
    grid = {"inflation": [0, 5, 50, 500, 5000], "violence": [0, 1, 10, 40, 100],
            "repression": [0, 20, 50, 80, 100], "success": [0, 0.2, 0.5, 0.8, 1.0],
            "diaspora": [0, 1e4, 1e5, 1e6, 5e6]}[driver]
    p = np.array([leave(**{driver: v}) for v in grid])
    assert np.all(np.diff(p) > 0), p


def test_leave_probability_ignores_negative_drivers_as_zero():
    assert leave(inflation=-20) == pytest.approx(leave(inflation=0))
    assert leave(violence=-5) == pytest.approx(leave(violence=0))


def test_tie_raises_leave_probability():
    for level in range(rules.RISK_LEVELS):
        assert leave(tie=1, level=level) > leave(tie=0, level=level)


def test_parole_raises_leave_probability_only_for_people_with_a_tie():
    assert leave(tie=1, parole_open=1) > leave(tie=1, parole_open=0)
    assert leave(tie=0, parole_open=1) == pytest.approx(leave(tie=0, parole_open=0))


def test_journey_risk_lowers_leave_probability_more_for_the_risk_averse():
    risks = np.array([0.0, 0.001, 0.005, 0.02])
    drops = []
    for level in range(rules.RISK_LEVELS):
        p = leave(level=level, journey_risk=risks)
        assert np.all(np.diff(p) <= 0)
        drops.append(p[0] - p[-1])
    drops = np.array(drops)
    assert np.all(np.diff(drops) < 0), drops           # the more tolerant, the smaller the drop
    assert drops[0] > 0
    assert drops[-1] == pytest.approx(0.0, abs=1e-15)  # full tolerance: risk does not matter
    # at any given risk the risk-averse leave less
    p_by_level = np.array([leave(level=lv, journey_risk=0.01) for lv in range(rules.RISK_LEVELS)])
    assert np.all(np.diff(p_by_level) > 0)


@FAST
@given(shared=finite, tie=st.integers(0, 1), parole=st.integers(0, 1), level=st.integers(0, 7), risk=prob)
def test_leave_probability_is_a_probability(shared, tie, parole, level, risk):
    p = rules.leave_probability(shared, 1.0, 1.0, 0.6, tie, parole, level, risk)
    assert 0.0 <= p <= 1.0


def test_leave_probability_broadcasts_over_arrays():
    shared = np.linspace(-12, 2, 5)[:, None]
    level = np.arange(rules.RISK_LEVELS)[None, :]
    p = rules.leave_probability(shared, 1.0, 1.0, 0.6, 1, 0, level, 0.003)
    assert p.shape == (5, rules.RISK_LEVELS)
    assert np.all((p >= 0) & (p <= 1))
    assert np.all(np.diff(p, axis=0) > 0)


def test_network_logit_zero_without_diaspora_and_increasing():
    assert rules.network_logit(0.25, 0.0, 1e7) == 0.0
    values = rules.network_logit(0.25, np.array([0, 1e3, 1e5, 1e7]), 1e7)
    assert np.all(np.diff(values) > 0)


# ----------------------------------------------------------------- traits

def test_initial_savings_median_is_ratio_times_gdp():
    u = (np.arange(200_001) + 0.5) / 200_001
    for gdp, ratio, sigma in [(5_000.0, 0.6, 1.0), (20_000.0, 1.5, 0.5), (1_500.0, 0.2, 2.0)]:
        savings = rules.initial_savings(gdp, ratio, sigma, u)
        assert np.all(savings > 0)
        assert np.all(np.diff(savings) >= 0)                  # monotone in the draw
        assert np.median(savings) == pytest.approx(ratio * gdp, rel=1e-3)
        assert np.std(np.log(savings)) == pytest.approx(sigma, rel=0.01)
    # a draw of 0 or 1 stays finite
    edge = rules.initial_savings(1000.0, 0.6, 1.0, np.array([0.0, 1.0]))
    assert np.all(np.isfinite(edge)) and np.all(edge > 0)


def test_risk_tolerance_levels_are_equally_likely_and_span_zero_to_one():
    u = (np.arange(80_000) + 0.5) / 80_000
    levels = rules.risk_tolerance_level(u)
    assert levels.min() == 0 and levels.max() == rules.RISK_LEVELS - 1
    counts = np.bincount(levels, minlength=rules.RISK_LEVELS)
    assert np.all(counts == 10_000)
    assert rules.risk_tolerance_level(np.array([0.999999999]))[0] == rules.RISK_LEVELS - 1
    tol = rules.risk_tolerance(np.arange(rules.RISK_LEVELS))
    assert tol[0] == 0.0 and tol[-1] == 1.0 and np.all(np.diff(tol) > 0)


def test_tie_probability_bounded_and_monotone():
    p = rules.tie_probability(np.array([0, 1e4, 1e5, 1e6, 1e7, 1e9]), 1e7, 4.0)
    assert np.all((p >= 0) & (p <= 0.95))
    assert np.all(np.diff(p) >= 0)
    assert p[0] == 0 and p[-1] == 0.95


# ----------------------------------------------------------------- aid

def test_aid_driver_multiplier_one_at_zero_decreasing_with_diminishing_returns():
    aid = np.linspace(0, 500, 101)
    m = rules.aid_driver_multiplier(aid, 50.0, 0.25)
    assert m[0] == 1.0
    assert np.all((m > 0) & (m <= 1))
    assert np.all(np.diff(m) < 0)
    assert np.all(np.diff(m, 2) > 0)          # each extra dollar does less
    # a stronger elasticity cuts more
    assert rules.aid_driver_multiplier(100.0, 50.0, 0.5) < rules.aid_driver_multiplier(100.0, 50.0, 0.1)
    # zero elasticity: no effect
    assert np.all(rules.aid_driver_multiplier(aid, 50.0, 0.0) == 1.0)
    # at the half-saturation point the factor is 2^-e
    assert rules.aid_driver_multiplier(50.0, 50.0, 0.25) == pytest.approx(2 ** -0.25)


def test_aid_savings_multiplier_one_at_zero_and_increasing():
    aid = np.linspace(0, 500, 11)
    m = rules.aid_savings_multiplier(aid, 5_000.0, 0.5)
    assert m[0] == 1.0
    assert np.all(np.diff(m) > 0)
    assert rules.aid_savings_multiplier(100.0, 5_000.0, 0.5) > rules.aid_savings_multiplier(100.0, 20_000.0, 0.5)


def test_can_afford_is_monotone_in_savings_and_threshold():
    savings = np.linspace(0, 10_000, 1001, dtype=np.float32)
    ok = rules.can_afford(savings, 4_000.0)
    assert not ok[0] and ok[-1]
    assert np.all(np.diff(ok.astype(int)) >= 0)           # once affordable, more savings stays affordable
    assert ok[savings >= 4_000.0].all() and not ok[savings < 4_000.0].any()
    thresholds = np.linspace(0, 20_000, 201)
    ok_t = rules.can_afford(np.float32(5_000.0), thresholds)
    assert np.all(np.diff(ok_t.astype(int)) <= 0)         # dearer journeys are never easier


def test_affordability_threshold_falls_as_aid_raises_savings():
    mult = rules.aid_savings_multiplier(np.array([0.0, 50.0, 500.0]), 5_000.0, 0.5)   # x1, x1.005, x1.05
    thr = rules.affordability_threshold(3_000.0, mult)
    assert thr[0] == pytest.approx(3_000.0)
    assert np.all(np.diff(thr) < 0)
    # someone just short of the fare can afford it once aid raises savings
    assert not rules.can_afford(np.float32(2_900.0), thr[0])
    assert rules.can_afford(np.float32(2_900.0), thr[2])


def test_longer_journey_lowers_leave_probability():
    """Expected months on the road enter the leave log-odds: more months, fewer leavers; none without the term."""
    logit = lambda months, b=1.0: rules.origin_logit(-9.0, 0.35, 0.30, 1.0, 2.0, 10.0, 20.0, 50.0, 0.5,  # noqa: E731
                                                     b, months)
    months = np.array([0.0, 0.35, 1.0, 2.2, 4.0])
    assert np.all(np.diff(logit(months)) < 0)
    assert logit(2.2) - logit(0.35) == pytest.approx(-1.85)
    assert np.all(logit(months, b=0.0) == logit(0.0))


# ----------------------------------------------------------------- routes

def test_route_utility_prefers_cheap_safe_unpoliced_routes():
    u = lambda **kw: rules.route_utility(1.0, 2.0, 3.0, kw.get("cost", 2000.0), kw.get("risk", 0.001),  # noqa: E731
                                         kw.get("icpt", 0.1), kw.get("level", 0))
    assert u(cost=1000.0) > u(cost=3000.0)
    assert u(risk=0.0005) > u(risk=0.005)
    assert u(icpt=0.0) > u(icpt=0.5)
    # risk matters less for the risk tolerant, not at all at full tolerance
    assert u(risk=0.005, level=0) < u(risk=0.005, level=4) < u(risk=0.005, level=7)
    assert u(risk=0.005, level=7) == pytest.approx(u(risk=0.0, level=7))
    # shorter journeys are preferred when travel time is weighed, ignored when it is not
    months = lambda m, b: rules.route_utility(1.0, 2.0, 3.0, 2000.0, 0.001, 0.1, 3, b, m)  # noqa: E731
    assert months(1.15, 1.0) > months(2.5, 1.0)
    assert months(1.15, 1.0) - months(2.5, 1.0) == pytest.approx(1.35)
    assert months(1.15, 0.0) == months(2.5, 0.0)


@FAST
@given(utilities=arrays(np.float64, (6,), elements=finite), available=arrays(bool, (6,)), u=unit)
def test_choose_never_picks_an_unavailable_option(utilities, available, u):
    pick = rules.choose(utilities, available, u)
    if not available.any():
        assert pick == -1
    else:
        assert 0 <= pick < 6
        assert available[pick]


def test_choose_returns_minus_one_when_nothing_is_available():
    utilities = np.zeros((4, 3))
    available = np.zeros((4, 3), dtype=bool)
    available[1, 2] = True
    picks = rules.choose(utilities, available, np.array([0.0, 0.3, 0.6, 0.9999]))
    assert picks.tolist() == [-1, 2, -1, -1]


def test_choose_extreme_draws_stay_on_available_options():
    utilities = np.array([[0.0, 1.0, 2.0, 3.0, 0.5]] * 4)
    available = np.array([[False, True, False, True, False]] * 4)
    picks = rules.choose(utilities, available, np.array([0.0, 1e-300, 1 - 2 ** -53, 0.5]))
    assert np.all(available[np.arange(4), picks])


def test_choose_frequencies_match_logit_weights():
    rng = np.random.default_rng(2024)
    n = 200_000
    utilities = np.array([0.3, -1.2, 0.8, 2.0, -0.5, 0.0])
    available = np.array([True, True, False, True, True, False])
    weights = rules.logit_weights(utilities, available)
    assert weights.sum() == pytest.approx(1.0)
    assert np.all(weights[~available] == 0)
    u = rng.random(n)
    picks = rules.choose(np.broadcast_to(utilities, (n, 6)), np.broadcast_to(available, (n, 6)), u)
    freq = np.bincount(picks, minlength=6) / n
    se = np.sqrt(weights * (1 - weights) / n)
    assert np.all(np.abs(freq - weights) <= 5 * se + 1e-12), (freq, weights)


def test_logit_weights_sum_to_one_or_zero_and_follow_utilities():
    utilities = np.array([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0], [0.0, 0.0, 0.0]])
    available = np.array([[True, True, True], [True, False, True], [False, False, False]])
    w = rules.logit_weights(utilities, available)
    assert w[0].sum() == pytest.approx(1.0) and np.all(np.diff(w[0]) > 0)
    assert w[1].tolist() == pytest.approx([0.5, 0.0, 0.5])
    assert np.all(w[2] == 0)
    # large utilities do not overflow
    big = rules.logit_weights(np.array([1000.0, 1001.0]), np.array([True, True]))
    assert np.all(np.isfinite(big)) and big.sum() == pytest.approx(1.0)


def test_combined_probability_bounds():
    p = np.array([0.1, 0.2, 0.3])
    c = rules.combined_probability(p)
    assert max(p) <= c <= min(1.0, p.sum())
    assert c == pytest.approx(1 - 0.9 * 0.8 * 0.7)
    assert rules.combined_probability(np.array([])) == 0.0
    assert rules.combined_probability(np.array([0.0, 1.0])) == 1.0


# ----------------------------------------------------------------- capacity and outcomes

@FAST
@given(p=prob, capacity=st.floats(0, 1e9, allow_nan=False),
       demand=st.one_of(st.just(0.0), st.floats(1e-6, 1e9, allow_nan=False)))
def test_capacity_share_never_serves_more_than_capacity(p, capacity, demand):
    share = float(rules.capacity_share(p, capacity, demand))
    assert 0.0 <= share <= p
    assert share * demand <= capacity * (1 + 1e-12) + 1e-9


def test_capacity_share_equals_probability_when_demand_is_small():
    demand = np.array([0.0, 10.0, 100.0, 1_000.0, 10_000.0, 100_000.0])
    share = rules.capacity_share(0.3, 1_000.0, demand)
    assert share[:4].tolist() == pytest.approx([0.3, 0.3, 0.3, 0.3])   # 0.3 x 1,000 <= 1,000
    assert share[4] == pytest.approx(0.1) and share[5] == pytest.approx(0.01)
    assert np.all(share * demand <= 1_000.0 + 1e-9)
    assert np.all(np.diff(share) <= 0)
    # arrays of probabilities and capacities broadcast (runs x countries)
    grid = rules.capacity_share(np.array([[0.2, 0.5]]), np.array([[100.0, 0.0]]), np.array([[50.0, 50.0]]))
    assert grid.tolist() == [[0.2, 0.0]]


def test_pick_outcome_frequencies_match_shares():
    rng = np.random.default_rng(7)
    n = 200_000
    for shares in ([0.5, 0.3, 0.2], [0.0, 0.3, 0.7], [0.2, 0.0, 0.8], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]):
        shares = np.array(shares)
        picks = rules.pick_outcome(np.broadcast_to(shares, (n, 3)), rng.random(n))
        assert picks.min() >= 0 and picks.max() <= 2
        freq = np.bincount(picks, minlength=3) / n
        assert np.all(freq[shares == 0] == 0), (shares, freq)      # impossible outcomes never happen
        se = np.sqrt(shares * (1 - shares) / n)
        assert np.all(np.abs(freq - shares) <= 5 * se + 1e-12), (shares, freq)


def test_persons_converts_agent_counts_by_origin():
    counts = np.array([[1, 2, 3], [0, 0, 1]])
    weight = np.array([10.0, 100.0, 0.5])
    assert rules.persons(counts, weight).tolist() == [211.5, 0.5]


def test_entry_probability():
    assert rules.entry_probability(0.0, 0.0) == 1.0
    assert rules.entry_probability(1.0, 0.0) == 0.0
    assert rules.entry_probability(1.0, 1.0) == 1.0
    p = rules.entry_probability(np.linspace(0, 1, 11), 0.3)
    assert np.all(np.diff(p) < 0) and np.all((p >= 0) & (p <= 1))
    assert rules.entry_probability(0.8, 0.6) > rules.entry_probability(0.8, 0.2)


def test_savings_after_journey_never_negative():
    left = rules.savings_after_journey(np.array([5_000.0, 3_000.0, 2_900.0], dtype=np.float32),
                                       np.array([3_000.0, 3_000.0, 3_000.0]))
    assert left.dtype == np.float32
    assert left.tolist() == [2_000.0, 0.0, 0.0]


# ---------------------------------------------------------------- the mechanisms of the surge

def test_new_drivers_move_the_leave_log_odds_in_their_direction():
    base = dict(intercept=-8.0, b_inflation=0.35, b_violence=0.3, b_repression=1.0, b_success=2.0,
                inflation_pct=5.0, homicides_per_100k=10.0, repression_0_100=40.0, success_probability=0.5)
    calm = rules.origin_logit(**base, b_unrest=0.5, unrest_index=0.0, b_disaster=1.0, disaster_share=0.0)
    assert rules.origin_logit(**base, b_unrest=0.5, unrest_index=1.0, b_disaster=1.0, disaster_share=0.0) > calm
    assert rules.origin_logit(**base, b_unrest=0.5, unrest_index=-1.0, b_disaster=1.0, disaster_share=0.0) < calm
    assert rules.origin_logit(**base, b_unrest=0.5, unrest_index=0.0, b_disaster=1.0, disaster_share=0.4) == \
        pytest.approx(calm + 0.4)


def test_learning_closes_half_the_gap_in_one_half_life():
    nominal = np.array([0.2] * 3 + [0.8] * 30)
    assert np.array_equal(rules.learned(nominal, 0.0), nominal)
    perceived = rules.learned(nominal, 2.0)
    assert perceived[2] == 0.2 and perceived[3] < 0.8
    assert perceived[4] == pytest.approx(0.2 + 0.5 * 0.6)          # two months after the change: half way
    assert np.all(np.diff(perceived[3:]) > 0) and perceived[-1] == pytest.approx(0.8, abs=1e-3)
    both = rules.learned(np.stack([nominal, 1 - nominal], axis=1), 2.0)    # columns learn each on their own
    assert np.allclose(both[:, 0], perceived) and np.allclose(both[:, 1], 1 - perceived)


def test_give_up_is_likelier_with_a_poor_chance_and_a_parole_option_and_needs_money_for_the_way_home():
    shared = rules.give_up_logit(0.44, 2.0, np.array([0.2, 0.6]))
    assert shared[0] > shared[1]
    p = rules.give_up_probability(0.0, 3.0, tie=np.array([0, 1, 1, 1]), parole_open=np.array([1, 1, 1, 0]),
                                  parole_bar=np.array([1, 1, 0, 1]), savings_usd=np.full(4, 5000.0),
                                  way_home_usd=1000.0)
    assert p[0] == pytest.approx(0.5) and p[1] > 0.95 and p[2] == p[3] == pytest.approx(0.5)
    broke = rules.give_up_probability(5.0, 3.0, 1, 1, 1, savings_usd=np.float32(999.0), way_home_usd=1000.0)
    assert broke == 0.0
    # the default: about 45 % of Mexicans expelled under Title 42 (chance of getting in 0.32) go home
    assert float(rules.give_up_probability(rules.give_up_logit(0.44, 2.0, 0.32), 3.0, 0, 0, 0, 1e4, 10.0)) == \
        pytest.approx(0.45, abs=0.01)


def test_weighted_passages_and_recent_entries():
    passages = np.array([[2.0, 0.0, 4.0], [1.0, 1.0, 1.0]])
    assert list(rules.weighted_passages(passages, np.array([1.0, 0.5, 0.25]))) == [3.0, 1.75]
    recent = rules.recent_after_entries(np.array([0.0]), np.array([1000.0]), 6.0)
    assert recent[0] == 1000.0
    older = rules.recent_after_entries(recent, np.array([0.0]), 6.0)
    assert older[0] == pytest.approx(1000.0 * 2 ** (-1 / 6))
    low = rules.recent_entries_logit(0.4, np.array([100.0]), 6.0, 1e7)
    high = rules.recent_entries_logit(0.4, np.array([1e5]), 6.0, 1e7)
    assert 0 < low[0] < high[0] and rules.recent_entries_logit(0.4, np.array([0.0]), 6.0, 1e7)[0] == 0.0


def test_entries_are_added_into_nationalities_from_pools():
    entered = np.array([[3, 1, 2], [0, 0, 5]])              # two runs, three pools
    persons = rules.entered_by_nationality(entered, np.array([10.0, 2.0, 0.5]), np.array([0, 1, 0]), 2)
    assert persons.tolist() == [[31.0, 2.0], [2.5, 0.0]]
    assert rules.diaspora_after_entries(np.array([[1.0, 1.0]]), persons[:1]).tolist() == [[32.0, 3.0]]
