"""Sweep designs: sizes, bounds, distributions, crossing, seeds and run ids."""
from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import pytest

from sim.core.paths import apply_values
from sim.experiments.sweeps import build_design, load_sweep

from helpers import SCENARIOS, TINY_SWEEP_BASE

BASE = TINY_SWEEP_BASE


def sweep_file(tmp_path, block: str, name: str = "s.yaml"):
    """A sweep file extending a tiny base scenario; ``block`` is the YAML under ``sweep:``."""
    (tmp_path / "base.yaml").write_text(BASE)
    text = "schema_version: 1\nextends: base.yaml\nname: s\nsweep:\n" + textwrap.indent(textwrap.dedent(block), "  ")
    path = tmp_path / name
    path.write_text(text)
    return path


def design_of(tmp_path, block: str):
    return build_design(load_sweep(sweep_file(tmp_path, block)))


def test_grid_is_every_combination_in_order(tmp_path):
    design = design_of(tmp_path, """
        levers:
          design: grid
          parameters:
            policies.us.apprehension_probability: [0.6, 0.7, 0.9]
            behaviour.border.attempt_probability: {values: [0.5, 0.8]}
        """)
    runs = design.runs
    assert len(design.points) == len(runs) == 6
    assert list(zip(runs["policies.us.apprehension_probability"], runs["behaviour.border.attempt_probability"])) == [
        (0.6, 0.5), (0.6, 0.8), (0.7, 0.5), (0.7, 0.8), (0.9, 0.5), (0.9, 0.8)]
    assert list(runs.point) == list(range(6))


def test_zip_pairs_values(tmp_path):
    design = design_of(tmp_path, """
        levers:
          design: zip
          parameters:
            policies.us.apprehension_probability: [0.6, 0.7, 0.9]
            behaviour.border.attempt_probability: [0.5, 0.6, 0.8]
        """)
    assert list(zip(design.runs["policies.us.apprehension_probability"],
                    design.runs["behaviour.border.attempt_probability"])) == [(0.6, 0.5), (0.7, 0.6), (0.9, 0.8)]


def test_lhs_size_bounds_and_strata(tmp_path):
    n = 20
    design = design_of(tmp_path, f"""
        uncertainties:
          design: lhs
          samples: {n}
          parameters:
            behaviour.hazard.network: {{distribution: uniform, low: 0.1, high: 0.5}}
            behaviour.aid.half_saturation_usd_per_person: {{distribution: loguniform, low: 10, high: 1000}}
        """)
    x = design.runs["behaviour.hazard.network"].to_numpy()
    y = design.runs["behaviour.aid.half_saturation_usd_per_person"].to_numpy()
    assert len(x) == n
    assert x.min() >= 0.1 and x.max() <= 0.5
    assert y.min() >= 10 and y.max() <= 1000
    # Latin hypercube: one point in each of the n equal-probability strata of every parameter
    assert sorted(np.floor((x - 0.1) / 0.4 * n).astype(int)) == list(range(n))
    assert sorted(np.floor(np.log(y / 10) / np.log(100) * n).astype(int)) == list(range(n))


@pytest.mark.parametrize("second_order, per_n", [(False, 2 + 3), (True, 2 + 2 * 3)])
def test_sobol_size_and_bounds(tmp_path, second_order, per_n):
    design = design_of(tmp_path, f"""
        uncertainties:
          design: sobol
          samples: 16
          second_order: {str(second_order).lower()}
          parameters:
            behaviour.hazard.network: {{distribution: uniform, low: 0.1, high: 0.5}}
            behaviour.border.attempt_probability: {{distribution: triangular, low: 0.5, mode: 0.9, high: 1.0}}
            behaviour.aid.lag_months: {{distribution: uniform, low: 0, high: 24}}
        """)
    runs = design.runs
    assert len(runs) == 16 * per_n
    assert runs["behaviour.hazard.network"].between(0.1, 0.5).all()
    assert runs["behaviour.border.attempt_probability"].between(0.5, 1.0).all()
    # a whole-number field gets whole numbers
    assert runs["behaviour.aid.lag_months"].dtype == np.int64
    assert runs["behaviour.aid.lag_months"].between(0, 24).all()
    assert design.uncertainties.unit.shape == (16 * per_n, 3)


def test_morris_size_and_levels(tmp_path):
    design = design_of(tmp_path, """
        uncertainties:
          design: morris
          samples: 5
          levels: 4
          parameters:
            behaviour.hazard.network: {distribution: uniform, low: 0.0, high: 0.3}
            behaviour.border.attempt_probability: {distribution: uniform, low: 0.6, high: 0.9}
        """)
    runs = design.runs
    assert len(runs) == 5 * (2 + 1)
    assert set(np.round(runs["behaviour.hazard.network"], 9)) <= {0.0, 0.1, 0.2, 0.3}
    # each step of a trajectory changes exactly one parameter
    unit = design.uncertainties.unit.reshape(5, 3, 2)
    assert ((np.abs(np.diff(unit, axis=1)) > 0).sum(axis=2) == 1).all()


def test_distributions_stay_in_their_support(tmp_path):
    design = design_of(tmp_path, """
        uncertainties:
          design: lhs
          samples: 200
          parameters:
            behaviour.hazard.network: {distribution: normal, mean: 0.25, sd: 0.2, low: 0.0, high: 0.4}
            behaviour.hazard.violence: {distribution: normal, mean: 0.3, sd: 0.05}
            behaviour.border.attempt_probability: {distribution: triangular, low: 0.1, mode: 0.2, high: 0.6}
            origins: {distribution: choice, values: [[GTM, HND], [VEN]]}
        """)
    runs = design.runs
    assert runs["behaviour.hazard.network"].between(0.0, 0.4).all()
    violence = runs["behaviour.hazard.violence"]
    assert abs(violence.mean() - 0.3) < 0.01 and 0.04 < violence.std() < 0.06
    give_up = runs["behaviour.border.attempt_probability"]
    assert give_up.between(0.1, 0.6).all() and abs(give_up.mean() - 0.3) < 0.02   # (low + mode + high) / 3
    assert set(runs["origins"]) == {'["GTM", "HND"]', '["VEN"]'}
    # points that change the world (origins) are batched apart
    assert runs.groupby("origins")["world"].nunique().tolist() == [1, 1]
    assert runs["world"].nunique() == 2


def test_cross_and_replications(tmp_path):
    design = design_of(tmp_path, """
        replications: 3
        levers:
          parameters:
            policies.us.apprehension_probability: [0.6, 0.9]
        uncertainties:
          design: lhs
          samples: 4
          parameters:
            behaviour.hazard.network: {distribution: uniform, low: 0.1, high: 0.5}
        """)
    runs = design.runs
    assert len(design.points) == 2 * 4 and len(runs) == 2 * 4 * 3
    assert runs.run_id.is_unique
    assert sorted(runs.groupby(["policy", "future"]).size().unique()) == [3]
    # every policy meets the same futures
    futures = runs.groupby("policy")["behaviour.hazard.network"].apply(lambda s: tuple(sorted(s)))
    assert futures.iloc[0] == futures.iloc[1]


def test_zip_combine_pairs_policies_and_futures(tmp_path):
    design = design_of(tmp_path, """
        combine: zip
        levers:
          parameters:
            policies.us.apprehension_probability: [0.6, 0.7, 0.9]
        uncertainties:
          design: lhs
          samples: 3
          parameters:
            behaviour.hazard.network: {distribution: uniform, low: 0.1, high: 0.5}
        """)
    assert design.points == [(0, 0), (1, 1), (2, 2)]


@pytest.mark.parametrize("mode, same_across_points", [("common", True), ("per_point", False)])
def test_seeds_come_from_identity_not_position(tmp_path, mode, same_across_points):
    block = """
        random_numbers: {mode}
        replications: 2
        levers:
          parameters:
            policies.us.apprehension_probability: {values}
        """
    a = design_of(tmp_path, block.format(mode=mode, values="[0.6, 0.7, 0.9]")).runs
    b = design_of(tmp_path, block.format(mode=mode, values="[0.9, 0.6]")).runs     # other order, one point fewer
    key = ["policies.us.apprehension_probability", "replicate"]
    merged = a.merge(b, on=key)
    assert len(merged) == 4
    assert (merged.run_id_x == merged.run_id_y).all() and (merged.seed_x == merged.seed_y).all()
    per_replicate = a.groupby("replicate")["seed"].nunique()
    assert (per_replicate == (1 if same_across_points else 3)).all()
    assert a.groupby("point")["seed"].nunique().eq(2).all()           # replicates differ
    assert 0 <= a.seed.min() and a.seed.max() < 2**63


def test_per_future_seeds_are_shared_by_policies(tmp_path):
    runs = design_of(tmp_path, """
        random_numbers: per_future
        levers:
          parameters:
            policies.us.apprehension_probability: [0.6, 0.9]
        uncertainties:
          design: lhs
          samples: 3
          parameters:
            behaviour.hazard.network: {distribution: uniform, low: 0.1, high: 0.5}
        """).runs
    assert runs.groupby("future")["seed"].nunique().eq(1).all()
    assert runs.seed.nunique() == 3


def test_design_is_reproducible_and_follows_the_seed(tmp_path):
    block = """
        seed: {seed}
        uncertainties:
          design: sobol
          samples: 8
          parameters:
            behaviour.hazard.network: {{distribution: uniform, low: 0.1, high: 0.5}}
        """
    first = design_of(tmp_path, block.format(seed=1)).runs
    pd.testing.assert_frame_equal(first, design_of(tmp_path, block.format(seed=1)).runs)
    other = design_of(tmp_path, block.format(seed=2)).runs
    assert not np.allclose(first["behaviour.hazard.network"], other["behaviour.hazard.network"])


def test_apply_values_copies_only_what_it_changes():
    base = {"a": {"b": 1, "c": [1, 2]}, "d": {"e": 2}}
    out = apply_values(base, [(("a", "b"), 5), (("a", "c", 1), 9)])
    assert out == {"a": {"b": 5, "c": [1, 9]}, "d": {"e": 2}}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": {"e": 2}}
    assert out["d"] is base["d"]


def test_shipped_sweep_design():
    design = build_design(load_sweep(SCENARIOS / "aid_vs_enforcement_sweep.yaml"))
    sweep = design.sweep
    assert sweep.name == "aid_vs_enforcement_sweep"
    assert len(design.levers) == 3 * 2 * 2
    assert len(design.uncertainties) == 8 * (3 + 2)
    assert len(design.runs) == 12 * 40 * 2
    assert {p.group for p in design.parameters} == {"levers", "uncertainties"}
    assert design.runs["policies.aid_nca.budget_usd_per_year"].nunique() == 3
    assert design.runs["drivers.violence_shock.change"].between(-0.3, 0.6).all()
