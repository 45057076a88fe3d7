"""The public names: every name in ``structmat.__all__`` resolves, and nothing else leaks."""

from __future__ import annotations

import pytest

import structmat as sm


@pytest.mark.parametrize("name", sm.__all__)
def test_public_name_resolves(name):
    assert getattr(sm, name) is not None


def test_unknown_name_raises_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'Monarchh'"):
        _ = sm.Monarchh


def test_dir_lists_the_public_names():
    assert dir(sm) == sorted(sm.__all__)
