from __future__ import annotations

from collections.abc import Iterator

import pytest

from audienceadmin.batch.simulator import BatchSimulator
from tests.batch.simclient import (
    API_KEY,
    OTHER_KEY,
    OTHER_PROJECT,
    OTHER_PROJECT_REST,
    OTHER_REST,
    PROJECT_KEY,
    PROJECT_REST,
    REST_KEY,
)


@pytest.fixture
def sim() -> Iterator[BatchSimulator]:
    """Two MEP apps (1.1 audiences oldest, middle, newest; theirs) and two CEP projects (alpha, beta, gamma; other)."""
    with BatchSimulator() as simulator:
        simulator.add_app(API_KEY, REST_KEY, ["oldest", "middle", "newest"])
        simulator.add_app(OTHER_KEY, OTHER_REST, ["theirs"])
        simulator.add_project(PROJECT_KEY, PROJECT_REST, ["alpha", "beta", {"name": "gamma", "nb_ids": 3}])
        simulator.add_project(OTHER_PROJECT, OTHER_PROJECT_REST, ["other"])
        yield simulator
