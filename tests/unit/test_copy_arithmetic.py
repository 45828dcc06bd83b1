"""The copy-time model behind the copier's defaults (benchmarks/copy_arithmetic.py), checked on
the walk-through docs/copy-benchmark.md writes out by hand."""

from __future__ import annotations

import pytest

from benchmarks.copy_arithmetic import (
    MIB,
    MODELS,
    copier_seconds,
    efficiency,
    file_seconds,
    two_step_seconds,
    whole_copy,
)

RATE, LATENCY, PART = 40 * MIB, 0.02, 64 * MIB
BLOOM_BF16 = MODELS["bigscience/bloom (BLOOM-176B bf16)"]


def test_one_bloom_shard_is_74_part_cycles_plus_its_round_trips():
    # 4.89 GB = 4,663 MiB: 73 parts of 64 MiB, one more cycle for the last upload to drain
    assert file_seconds(BLOOM_BF16[0], RATE, LATENCY, PART) == pytest.approx(
        74 * (0.02 + 64 / 40) + 10 * 0.02
    )


def test_bloom_bf16_takes_three_waves_and_eight_minutes_with_32_workers():
    seconds, waves = whole_copy(BLOOM_BF16, 32, RATE, LATENCY, PART)
    assert (waves, seconds) == (3, 480)


def test_a_file_that_fits_one_wave_is_seen_done_at_the_next_tick():
    seconds, waves = whole_copy([1 * MIB], 32, RATE, LATENCY, PART)
    assert (waves, seconds) == (1, 60)  # started at the first tick (30 s), seen at the second


def test_part_size_trades_latency_per_part_against_the_drain():
    five_gb = 5e9
    by_part = {mib: efficiency(five_gb, RATE, 0.05, mib * MIB) for mib in (8, 64, 1024)}
    assert by_part[64] > by_part[8]  # 8 MiB parts pay 50 ms per 0.2 s of transfer
    assert by_part[64] > by_part[1024]  # a 1 GiB part drains for 25 s at the end


def test_the_two_step_path_costs_about_twice_the_copier_at_equal_connections():
    sizes = [256 * MIB] * 8
    for workers in (1, 2, 4, 8):
        copier = copier_seconds(sizes, workers, 20 * MIB, LATENCY, 8 * MIB)
        two_step = two_step_seconds(sizes, workers, 20 * MIB, LATENCY, 8 * MIB)
        assert 1.7 < two_step / copier < 2.0
