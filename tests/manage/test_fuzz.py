"""Property-based fuzzing of the management API from its own OpenAPI document (schemathesis): whatever a
client sends, valid or not, the API never answers with a 5xx and its answers match the document."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from rumbo.store.sqlite import SqliteStore
from tests.manage.conftest import Api, serve
from tests.manage.test_isolation import _APP

# Key rotation is left out: it would end the key the fuzzer authenticates with, after which every
# request is an uninteresting 401. tests/manage/test_api_catalog.py covers it.
SCHEMA = schemathesis.openapi.from_dict(_APP.openapi()).exclude(path_regex="/rotate$")


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    path: Path = tmp_path_factory.mktemp("fuzz") / "rumbo.db"
    yield from serve(lambda: SqliteStore(path))


@SCHEMA.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_errors(case: schemathesis.Case, fuzzed: Api) -> None:
    case.call_and_validate(
        base_url=fuzzed.url,
        headers={"Authorization": f"Bearer {fuzzed.a.admin_key}"},
        checks=[not_a_server_error],
    )
