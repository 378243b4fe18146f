"""Thresholds per surface map a score to allow, review or block."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import pytest

from veedel.errors import ConfigError, InputError
from veedel.imagefilter import Action, Policy, Thresholds
from veedel.imagefilter.settings import ImageFilterSettings, load_settings


def test_band_edges_are_half_open() -> None:
    """score < review allows, review <= score < block reviews, block <= score blocks."""
    policy = Policy({"post_image": (0.3, 0.8)})

    actions = [
        policy.action(s, "post_image") for s in (0.0, 0.2999, 0.3, 0.7999, 0.8, 1.0)
    ]

    assert actions == [
        Action.ALLOW,
        Action.ALLOW,
        Action.REVIEW,
        Action.REVIEW,
        Action.BLOCK,
        Action.BLOCK,
    ]


def test_surfaces_have_their_own_thresholds() -> None:
    """The same score is allowed on one surface and reviewed on another."""
    policy = Policy({"post_image": (0.3, 0.8), "profile_picture": (0.1, 0.5)})

    assert policy.action(0.2, "post_image") is Action.ALLOW
    assert policy.action(0.2, "profile_picture") is Action.REVIEW
    assert policy.action(0.6, "profile_picture") is Action.BLOCK


def test_verdict_records_score_model_thresholds_and_time() -> None:
    """A verdict carries everything needed to explain it later."""
    verdict = Policy({"post_image": (0.3, 0.8)}).decide(0.5, "post_image", "m-1")

    data = verdict.to_dict()

    assert data["action"] == "review"
    assert (data["review_threshold"], data["block_threshold"]) == (0.3, 0.8)
    assert data["model_version"] == "m-1"
    assert verdict.decided_at.tzinfo is UTC


def test_equal_thresholds_mean_no_review_band() -> None:
    """review == block is allowed: nothing goes to humans."""
    policy = Policy({"s": (0.5, 0.5)})

    assert [policy.action(x, "s") for x in (0.49, 0.5)] == [Action.ALLOW, Action.BLOCK]


@pytest.mark.parametrize("pair", [(0.8, 0.3), (-0.1, 0.5), (0.2, 1.5)])
def test_bad_thresholds_are_input_errors(pair: tuple[float, float]) -> None:
    """Unordered or out-of-range thresholds are refused with the surface named."""
    with pytest.raises(InputError, match=r"surfaces\.post_image"):
        Policy({"post_image": pair})


def test_unknown_surface_names_the_known_ones() -> None:
    """Asking for an unconfigured surface lists the configured ones."""
    with pytest.raises(InputError, match=r"\['post_image', 'profile_picture'\]"):
        Policy().action(0.1, "avatar")


@pytest.mark.parametrize("score", [-0.01, 1.01, float("nan")])
def test_score_outside_unit_interval_is_refused(score: float) -> None:
    """A score that is not a probability (NaN included) is an input error."""
    with pytest.raises(InputError, match="score"):
        Policy().action(score, "post_image")


def test_settings_read_thresholds_from_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """[images.surfaces] in veedel.toml sets the thresholds; env overrides a limit."""
    config = tmp_path / "veedel.toml"
    config.write_text(
        "[images]\nmax_bytes = 1000\ndefault_surface = 'chat'\n"
        "[images.surfaces.chat]\nreview = 0.4\nblock = 0.9\n"
    )
    monkeypatch.setenv("VEEDEL_CONFIG", str(config))
    monkeypatch.setenv("VEEDEL_IMAGES__MAX_BYTES", "2000")

    settings = load_settings()

    assert settings.policy().thresholds("chat") == Thresholds(review=0.4, block=0.9)
    assert settings.limits().max_bytes == 2000


def test_settings_refuse_an_unknown_default_surface() -> None:
    """default_surface must be one of the configured surfaces."""
    with pytest.raises(ConfigError, match="default_surface"):
        load_settings(default_surface="nowhere")
    assert ImageFilterSettings().default_surface == "post_image"
