"""Fixtures for in-process Compute API tests: a temporary SQLite database,
a controllable clock and a Starlette TestClient per test."""

import pathlib
import sys

import pytest

# The project runs pytest with --import-mode=importlib, which puts no test
# folder on sys.path; the test modules import their helpers from here.
sys.path.insert(0, str(pathlib.Path(__file__).parent))

from api_helpers import Api  # noqa: E402


@pytest.fixture
def make_api(tmp_path_factory):
    created = []

    def factory(options=None):
        api = Api(tmp_path_factory.mktemp("api"), options)
        api.client.__enter__()
        created.append(api)
        return api

    yield factory
    for api in created:
        api.client.__exit__(None, None, None)
        api.database.dispose()


@pytest.fixture
def api(make_api):
    return make_api()


@pytest.fixture
def server(api):
    return api.create_server()
