"""Property-based fuzzing of the ingestion endpoints from the server's own OpenAPI document (schemathesis):
whatever an SDK or anyone else sends, with a valid write key or none, the API never answers with a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from rumbo.demo.run import example_journeys
from rumbo.runtime.service import Service, ServiceConfig
from rumbo.server.app import create_app
from tests.peers import http_server

_SERVICE = Service(ServiceConfig(home=Path("unused"), journeys=[example_journeys()]))
SCHEMA = schemathesis.openapi.from_dict(create_app(_SERVICE).openapi()).include(path_regex="^/v1/")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    service = Service(
        ServiceConfig(home=tmp_path_factory.mktemp("fuzz") / "data", journeys=[example_journeys()])
    )
    service.start()
    assert service.created is not None
    try:
        with http_server(create_app(service)) as url:
            yield url, service.created.write_key
        # The fuzzer's valid messages got through, so it was exercising ingestion, not the key check.
        assert service.open_store()._query("SELECT COUNT(*) FROM events")[0][0] > 0
    finally:
        service.stop()


@SCHEMA.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_errors(case: schemathesis.Case, served: tuple[str, str]) -> None:
    url, write_key = served
    case.call_and_validate(base_url=url, auth=(write_key, ""), checks=[not_a_server_error])
