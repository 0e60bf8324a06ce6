"""Counter-based draws: pure functions of (seed, month, purpose, agent id)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from sim.core.random import Purpose, replicate_seed, stream_key, uniform, uniform_one

SEED, MONTH = 12345, 7


def key(seed=SEED, month=MONTH, purpose=Purpose.LEAVE):
    return stream_key(seed, month, purpose)


def test_uniform_is_deterministic_for_key_and_id():
    ids = np.arange(1000, dtype=np.uint64)
    a = uniform(key(), ids)
    b = uniform(key(), ids.copy())
    assert a.dtype == np.float64
    assert np.array_equal(a, b)
    assert stream_key(SEED, MONTH, Purpose.LEAVE) == stream_key(SEED, MONTH, Purpose.LEAVE)


def test_uniform_does_not_depend_on_batching():
    ids = np.arange(1000, dtype=np.uint64)
    whole = uniform(key(), ids)
    for size in (1, 7, 100, 333):
        chunks = np.concatenate([uniform(key(), ids[i: i + size]) for i in range(0, 1000, size)])
        assert np.array_equal(chunks, whole)
    one_by_one = np.array([uniform_one(SEED, MONTH, Purpose.LEAVE, i) for i in range(1000)])
    assert np.array_equal(one_by_one, whole)
    # order and duplicates do not matter either
    perm = np.random.default_rng(0).permutation(1000).astype(np.uint64)
    assert np.array_equal(uniform(key(), perm), whole[perm.astype(np.int64)])
    twice = np.concatenate([ids[:10], ids[:10]])
    assert np.array_equal(uniform(key(), twice), np.concatenate([whole[:10], whole[:10]]))


def test_uniform_accepts_plain_ints_and_large_ids():
    assert np.array_equal(uniform(key(), np.arange(5)), uniform(key(), np.arange(5, dtype=np.uint64)))
    big = np.array([2**40, 2**62, 2**64 - 1], dtype=np.uint64)
    u = uniform(key(), big)
    assert np.all((u >= 0) & (u < 1)) and len(set(u.tolist())) == 3


def test_array_of_keys_per_run_equals_separate_streams():
    ids = np.arange(500, dtype=np.uint64)
    keys = np.array([key(seed=s) for s in (1, 2, 3)], dtype=np.uint64)
    run = np.repeat(np.arange(3), 500)
    batched = uniform(keys[run], np.tile(ids, 3))
    separate = np.concatenate([uniform(int(k), ids) for k in keys])
    assert np.array_equal(batched, separate)


@pytest.mark.parametrize("change", ["seed", "month", "purpose"])
def test_different_seeds_months_purposes_give_different_streams(change):
    ids = np.arange(100_000, dtype=np.uint64)
    other = {"seed": key(seed=SEED + 1), "month": key(month=MONTH + 1),
             "purpose": key(purpose=Purpose.ROUTE)}[change]
    assert other != key()
    a, b = uniform(key(), ids), uniform(other, ids)
    assert np.mean(a == b) < 1e-3
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.015


def test_every_purpose_and_slot_has_its_own_stream():
    purposes = [int(p) for p in Purpose] + [Purpose.DEATH + s for s in range(1, 10)] + \
               [Purpose.INTERCEPT + s for s in range(1, 10)]
    keys = {stream_key(SEED, m, p) for m, p in itertools.product(range(60), set(purposes))}
    assert len(keys) == 60 * len(set(purposes))
    # slots stay clear of the next purpose block
    assert Purpose.DEATH + 19 < Purpose.INTERCEPT and Purpose.INTERCEPT + 19 < Purpose.INTERCEPT_OUTCOME


def test_months_and_seeds_do_not_collide():
    keys = {stream_key(seed, month, Purpose.LEAVE) for seed in range(50) for month in range(120)}
    assert len(keys) == 50 * 120


def test_uniform_is_uniform():
    ids = np.arange(100_000, dtype=np.uint64)
    for k in (key(), key(seed=0, month=0, purpose=Purpose.SAVINGS), key(seed=2**62, purpose=Purpose.ATTEMPT)):
        u = uniform(k, ids)
        assert u.min() >= 0.0 and u.max() < 1.0
        assert u.mean() == pytest.approx(0.5, abs=0.005)
        assert u.var() == pytest.approx(1 / 12, rel=0.02)
        assert stats.kstest(u, "uniform").pvalue > 0.001
        # neighbouring ids are not correlated
        assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 0.015
        # all deciles filled evenly (chi-square)
        counts = np.bincount((u * 10).astype(int), minlength=10)
        assert stats.chisquare(counts).pvalue > 0.001


def test_uniform_across_agents_of_one_id_over_months_is_uniform():
    """One agent's draws over many months (the engine's use) are uniform too."""
    u = np.array([uniform(stream_key(SEED, m, Purpose.LEAVE), np.array([17]))[0] for m in range(5000)])
    assert stats.kstest(u, "uniform").pvalue > 0.001


def test_replicate_seed_distinct_and_in_range():
    seeds = [replicate_seed(12345, r) for r in range(1000)]
    assert len(set(seeds)) == 1000
    assert all(0 <= s < 2**63 for s in seeds)
    assert replicate_seed(12345, 0) == replicate_seed(12345, 0)
    assert replicate_seed(12345, 0) != replicate_seed(12346, 0)
    assert replicate_seed(12345, 1) != replicate_seed(12346, 0)
    # no overlap between the replicates of two neighbouring scenario seeds
    assert not set(seeds) & {replicate_seed(12346, r) for r in range(1000)}
    # seeds usable as stream seeds (and as int64 in the outcomes table)
    assert np.array(seeds, dtype=np.int64).min() >= 0
    stream_key(seeds[-1], 0, Purpose.LEAVE)


def test_stream_keys_of_many_seeds_equal_stream_key():
    from sim.core.random import seed_keys, stream_keys

    seeds = [0, 1, 7, 12345, 2**63 - 1, replicate_seed(99, 4), -3, 2**70 + 5]
    base = seed_keys(seeds)
    for month in (0, 1, 125, 4000):
        for purpose in (Purpose.LEAVE, Purpose.DEATH + 3, 75):
            keys = stream_keys(base, month, purpose)
            assert keys.dtype == np.uint64
            assert keys.tolist() == [stream_key(s, month, purpose) for s in seeds]
    table = stream_keys(base[None, :], 9, np.arange(80, dtype=np.uint64)[:, None])
    assert table.shape == (80, len(seeds))
    assert table[Purpose.GIVE_UP].tolist() == [stream_key(s, 9, Purpose.GIVE_UP) for s in seeds]
