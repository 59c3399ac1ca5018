"""Data tests never reach the network: every download fails as it would offline."""

import urllib.error

import pytest

from nasdsl.data import download


def offline(url, *args, **kwargs):
    raise urllib.error.URLError("network is unreachable (tests run offline)")


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    monkeypatch.setattr(download, "urlopen", offline)
