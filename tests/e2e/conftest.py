"""Fixtures for the end-to-end suite.

Every server fixture is parametrized over the two storage backends:
  sqlite    the embedded default (a file in the data dir)
  postgres  a fresh database per installation, created through TESSERA_TEST_PG_URL

Without TESSERA_TEST_PG_URL the postgres half is skipped, unless CI is set, in
which case it fails: CI must run the PostgreSQL tests.
"""

from __future__ import annotations

import os

import pytest

from helpers import (
    App,
    PgAdmin,
    Store,
    TesseraServer,
    scrub_aws_environment,
    tessera_bin,
    unique,
)

scrub_aws_environment()

BACKENDS = ["sqlite", "postgres"]
PG_URL_ENV = "TESSERA_TEST_PG_URL"


def pytest_collection_modifyitems(session, config, items):
    """Tests that restart PostgreSQL (issue 16's fault test) run after every other test, so
    that no other test sees its connections cut."""
    items.sort(key=lambda item: item.get_closest_marker("restarts_postgres") is not None)


def pytest_report_header(config):
    return [
        f"tessera binary: {tessera_bin()}",
        f"{PG_URL_ENV}: {os.environ.get(PG_URL_ENV) or '(unset: postgres tests skipped)'}",
    ]


@pytest.fixture(scope="session")
def pg_admin():
    url = os.environ.get(PG_URL_ENV)
    if not url:
        yield None
        return
    admin = PgAdmin(url)
    yield admin
    admin.drop_all()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request, pg_admin):
    if request.param == "postgres" and pg_admin is None:
        if os.environ.get("CI"):
            pytest.fail(
                f"CI is set but {PG_URL_ENV} is not: the PostgreSQL backend must be tested in CI "
                f"(e.g. {PG_URL_ENV}=postgres://postgres@127.0.0.1:5432/postgres)",
                pytrace=False,
            )
        pytest.skip(f"{PG_URL_ENV} not set")
    return request.param


class ServerFactory:
    """Makes stores (data dir + database) and starts servers on them; stops all at the end."""

    def __init__(self, backend: str, tmp_path_factory, pg_admin: PgAdmin | None):
        self.backend = backend
        self.tmp_path_factory = tmp_path_factory
        self.pg_admin = pg_admin
        self.servers: list[TesseraServer] = []

    def new_store(self) -> Store:
        data_dir = self.tmp_path_factory.mktemp(f"tessera-{self.backend}")
        # tessera must create the data dir itself on first start
        data_dir.rmdir()
        url = self.pg_admin.create() if self.backend == "postgres" else None
        return Store(self.backend, data_dir, url)

    def start(self, store: Store | None = None, name: str = "tessera", extra_args=(), env=None, listen: str = "127.0.0.1:0") -> TesseraServer:
        server = TesseraServer(store or self.new_store(), name=name, extra_args=extra_args, env=env, listen=listen)
        self.servers.append(server)
        return server.start()

    def close(self) -> None:
        for server in self.servers:
            try:
                server.stop()
            except Exception:
                server.kill()


@pytest.fixture(scope="session")
def session_factory(backend, tmp_path_factory, pg_admin):
    factory = ServerFactory(backend, tmp_path_factory, pg_admin)
    yield factory
    factory.close()


@pytest.fixture(scope="session")
def server(session_factory) -> TesseraServer:
    """The shared server of one backend: tests give themselves fresh pools on it."""
    return session_factory.start(name="shared")


@pytest.fixture(scope="module")
def module_factory(backend, tmp_path_factory, pg_admin):
    factory = ServerFactory(backend, tmp_path_factory, pg_admin)
    yield factory
    factory.close()


@pytest.fixture
def server_factory(backend, tmp_path_factory, pg_admin):
    """For tests that need servers of their own (restart, bootstrap, root key, shutdown)."""
    factory = ServerFactory(backend, tmp_path_factory, pg_admin)
    yield factory
    factory.close()


@pytest.fixture
def idp(server):
    """boto3 cognito-idp client signed with the shared server's root key."""
    return server.client()


class PoolMaker:
    def __init__(self, idp):
        self.idp = idp
        self.ids: list[str] = []

    def __call__(self, **kwargs) -> dict:
        kwargs.setdefault("PoolName", unique("e2e-pool"))
        pool = self.idp.create_user_pool(**kwargs)["UserPool"]
        self.ids.append(pool["Id"])
        return pool

    def cleanup(self) -> None:
        for pool_id in self.ids:
            try:
                self.idp.delete_user_pool(UserPoolId=pool_id)
            except Exception:
                pass


@pytest.fixture
def make_pool(idp):
    """Creates fresh pools on the shared server (deleted again afterwards, best effort)."""
    maker = PoolMaker(idp)
    yield maker
    maker.cleanup()


@pytest.fixture
def pool(make_pool) -> dict:
    return make_pool()


# --------------------------------------------------------------------------
# the user directory: a pool with an app client (helpers.App), public (unsigned) calls

@pytest.fixture
def public(server):
    """Unsigned boto3 client for the public (client-id) operations: SignUp, ConfirmSignUp, ..."""
    return server.unsigned_client()


@pytest.fixture
def make_app(server, idp, public, make_pool):
    """make_app(client={...ClientKwargs}, **pool_kwargs) -> App on the shared server."""

    def make(client: dict | None = None, **pool_kwargs) -> App:
        pool = make_pool(**pool_kwargs)
        c = idp.create_user_pool_client(
            UserPoolId=pool["Id"], ClientName=unique("e2e-client"), **(client or {})
        )["UserPoolClient"]
        return App(server, idp, public, pool, c)

    return make


@pytest.fixture
def app(make_app) -> App:
    """A pool that auto-verifies e-mail, with a client that leaves PreventUserExistenceErrors
    out (so LEGACY: unknown users are revealed)."""
    return make_app(AutoVerifiedAttributes=["email"])
