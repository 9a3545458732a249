"""The benchmark script runs and reports its measurements (the numbers are not tested)."""

import importlib.util
from pathlib import Path

BENCH_SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "engines.py"


def load_benchmark():
    spec = importlib.util.spec_from_file_location("bench_engines", BENCH_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_benchmark_evaluates_a_realistic_one_kilobyte_event_and_reports_rates():
    results = load_benchmark().run(0.02)
    assert 900 <= results["event_bytes"] <= 1_300
    assert results["evaluations"] >= 1_000
    assert results["evaluations_per_second"] > 0
    assert results["trigger_matches_per_second"] > 0
    assert results["mapping_renders_per_second"] > 0
    assert results["target_per_second"] == 50_000
    assert isinstance(results["meets_target"], bool)
