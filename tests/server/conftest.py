"""A real rumbo server for the tests: the service on a fresh SQLite data directory, uvicorn on a free
port of 127.0.0.1 in a thread, the example journeys live."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from rumbo.demo.run import example_journeys
from rumbo.runtime.service import Service, ServiceConfig
from rumbo.server.app import create_app
from tests.peers import http_server


@dataclass
class Server:
    url: str
    service: Service
    write_key: str
    admin_key: str

    def wait_processed(self, at_least: int, timeout: float = 30.0) -> None:
        """Wait until the worker has processed `at_least` events (the test fails if it never does)."""
        deadline = time.monotonic() + timeout
        while self.service.processed < at_least:
            if time.monotonic() > deadline:
                raise AssertionError(f"worker processed {self.service.processed} of {at_least} events")
            time.sleep(0.02)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    service = Service(ServiceConfig(home=tmp_path / "data", journeys=[example_journeys()]))
    service.start()
    assert service.created is not None
    try:
        with http_server(create_app(service)) as url:
            yield Server(url, service, service.created.write_key, service.created.admin_key)
    finally:
        service.stop()


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as c:
        yield c
