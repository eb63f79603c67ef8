"""Property tests are deterministic in CI (issue 19): a fixed hypothesis profile; a random one locally."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from . import test_normalize, test_robustness, test_segment


@pytest.mark.skipif(os.environ.get("HYPOTHESIS_PROFILE", "ci") != "ci", reason="a dev profile is loaded")
def test_ci_profile_replays_the_same_examples_and_prints_a_blob():
    assert settings.default.derandomize is True
    assert settings.default.print_blob is True
    for module in (test_normalize, test_robustness, test_segment):  # their own settings inherit it
        assert module.PROPERTY.derandomize is True, module.__name__


def test_dev_profile_searches_randomly_and_longer():
    dev = settings.get_profile("dev")
    assert dev.derandomize is False
    assert dev.max_examples > settings.get_profile("ci").max_examples
