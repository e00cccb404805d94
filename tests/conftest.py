"""Shared fixtures: the sample issue, isolated settings, databases and the browser."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from support.env import SAMPLE_ISSUE, TEST_SECRET, WebServer, use_loopback_ses


@pytest.fixture(scope="session")
def _migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite database at the newest migration, made once per session."""
    from newsletter.store.db import upgrade

    path = tmp_path_factory.mktemp("template") / "migrated.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(autouse=True)
def _isolated_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, _migrated_sqlite: Path
) -> None:
    """Every test starts from default settings in its own directory (no stray .env), with
    its own copy of an empty, migrated SQLite database (migrating costs more than copying)."""
    for name in list(os.environ):
        if name.startswith("NEWSLETTER_") and not name.startswith(
            ("NEWSLETTER_TEST_", "NEWSLETTER_REQUIRE_")
        ):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("NEWSLETTER_BASE_URL", "https://news.example.org")
    monkeypatch.setenv("NEWSLETTER_OUTBOX_DIR", str(tmp_path / "outbox"))
    shutil.copyfile(_migrated_sqlite, tmp_path / "test.db")
    monkeypatch.setenv("NEWSLETTER_DATABASE_URL", f"sqlite:///{tmp_path / 'test.db'}")
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def migrated_sqlite(tmp_path: Path, _migrated_sqlite: Path) -> Callable[[str], str]:
    """Makes SQLite databases in the test's folder: ``migrated_sqlite("a.db")`` is the URL of
    a new file of that name at the newest migration, with no rows (a copy of the session's
    migrated database: the same as what ``open_database`` makes of a new file, without
    running every migration again)."""

    def make(name: str) -> str:
        path = tmp_path / name
        assert not path.exists(), f"{path} exists already"
        shutil.copyfile(_migrated_sqlite, path)
        return f"sqlite:///{path}"

    return make


@pytest.fixture
def sample_issue_path() -> Path:
    return SAMPLE_ISSUE


def _postgres_base_url() -> str | None:
    url = os.environ.get("NEWSLETTER_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("NEWSLETTER_REQUIRE_POSTGRES"):
            pytest.fail("NEWSLETTER_TEST_POSTGRES_URL is not set but PostgreSQL is required")
        return None
    try:
        import psycopg

        plain = url.replace("postgresql+psycopg://", "postgresql://")
        psycopg.connect(plain, connect_timeout=3).close()
    except Exception as err:
        if os.environ.get("NEWSLETTER_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL at {url} is required but not reachable: {err}")
        return None
    return url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty schema in the test PostgreSQL, dropped afterwards: for tests of what
    happens before ``newsletter db upgrade``. A test that needs the tables takes
    ``migrated_postgres_url`` (or ``database_url``), which migrates nothing per test."""
    base = _postgres_base_url()
    if base is None:
        pytest.skip("no PostgreSQL (set NEWSLETTER_TEST_POSTGRES_URL, or run make test)")
    from newsletter.store.db import make_engine

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


class _PostgresCopies:
    """Copies of the migrated template database, each made while the test before it runs.

    ``CREATE DATABASE ... TEMPLATE`` waits for a checkpoint of the whole server: ~20 ms on
    a quiet machine, a quarter of a second when other tests keep the server busy. One copy
    is made ahead in a background thread, so a test that takes one rarely waits for it.
    """

    def __init__(self, base: str, copy_clause: str) -> None:
        self.base = base
        self.copy_clause = copy_clause
        self.maker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-copy")
        self.next: Future[str] = self.maker.submit(self._create)

    def _create(self) -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        with _postgres_admin(self.base) as admin:
            admin.execute(f'CREATE DATABASE "{name}" {self.copy_clause}')
        return name

    def take(self) -> str:
        """A database of its own (the caller drops it); the next copy starts at once."""
        ready, self.next = self.next, self.maker.submit(self._create)
        return ready.result()

    def close(self) -> None:
        try:
            _drop_database(self.base, self.next.result())
        finally:
            self.maker.shutdown()


@pytest.fixture(scope="session")
def _migrated_postgres() -> Iterator[tuple[str, _PostgresCopies]]:
    """A PostgreSQL database at the newest migration, made once per session (per xdist
    worker): the server's URL, and copies of it to hand out. Copying a database costs the
    server ~20 ms; migrating one ~0.3 s."""
    base = _postgres_base_url()
    if base is None:
        pytest.skip("no PostgreSQL (set NEWSLETTER_TEST_POSTGRES_URL, or run make test)")
    from newsletter.store.db import upgrade

    template = f"tpl_{uuid.uuid4().hex[:12]}"
    with _postgres_admin(base) as admin:
        admin.execute(f'CREATE DATABASE "{template}"')
        # PostgreSQL 15 copies a small database fastest file by file (the test server
        # runs with fsync=off, so the checkpoint that needs is cheap).
        strategy = " STRATEGY FILE_COPY" if admin.info.server_version >= 150000 else ""
    upgrade(_on_database(base, template))
    copies = _PostgresCopies(base, f'TEMPLATE "{template}"{strategy}')
    try:
        yield base, copies
    finally:
        copies.close()
        _drop_database(base, template)


def _postgres_admin(base: str) -> Any:
    """An autocommit connection to the test server (CREATE DATABASE refuses transactions)."""
    import psycopg

    return psycopg.connect(base.replace("postgresql+psycopg://", "postgresql://"),
                           autocommit=True)


def _drop_database(base: str, name: str) -> None:
    with _postgres_admin(base) as admin:
        # FORCE: a connection a failed test left open must not keep the database.
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def _on_database(base: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(base).set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def migrated_postgres_url(_migrated_postgres: tuple[str, _PostgresCopies]) -> Iterator[str]:
    """A PostgreSQL database of its own, at the newest migration and empty, dropped
    afterwards (a copy of the session's migrated template: no migration per test)."""
    base, copies = _migrated_postgres
    name = copies.take()
    yield _on_database(base, name)
    _drop_database(base, name)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, _migrated_sqlite: Path) -> str:
    """Each store test runs on SQLite and on a real PostgreSQL: a database of its own at the
    newest migration, with no rows (a copy of one migrated per session, so calling
    ``upgrade`` on it changes nothing). ``empty_database_url`` has no tables at all."""
    if request.param == "sqlite":
        shutil.copyfile(_migrated_sqlite, tmp_path / "store.db")
        return f"sqlite:///{tmp_path / 'store.db'}"
    url: str = request.getfixturevalue("migrated_postgres_url")
    return url


@pytest.fixture
def db(database_url: str) -> Iterator[Any]:
    """The open ``Database`` of ``database_url`` (SQLite and PostgreSQL, at the newest
    migration), closed afterwards. A test module may define its own ``db`` instead."""
    from newsletter.store.db import open_database

    db = open_database(database_url)
    yield db
    db.close()


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLite and PostgreSQL without any table (the schema ``newsletter db upgrade`` has not
    made yet)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's Chromium; the browser tests need it (``.ci/run`` installs it)."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("NEWSLETTER_REQUIRE_BROWSER"):
            pytest.fail("Chromium is required but not installed")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    return path


CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    """Headless Chromium (playwright), one per test module: starting one costs ~1 s of CPU
    and 2-4 s. Tests share nothing through it: ``browser.new_page()`` and
    ``browser.new_context()`` each open a fresh context (own cookies, storage and cache).
    Not per session: while playwright's sync API is open, its event loop counts as running
    in this thread, so ``asyncio.run`` (and a second ``sync_playwright``) would fail in
    every test that ran after the first browser test."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def web_server(tmp_path: Path) -> Iterator[WebServer]:
    """``newsletter serve`` as a real process on a free loopback port; BASE_URL points at it."""
    from support.servers import serve

    with serve(tmp_path, tmp_path / "serve.log") as server:
        yield server


@pytest.fixture(scope="session")
def moto_ses_url() -> Iterator[str]:
    """moto's server mode on a free loopback port, shared by the session."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def _moto_ses_admin(moto_ses_url: str) -> Any:
    """The tests' own SES client for moto, made once (a new boto3 client loads and parses
    the service's model again: ~0.1 s each)."""
    import boto3

    return boto3.session.Session().client(
        "sesv2", region_name="us-east-1", endpoint_url=moto_ses_url,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )


@pytest.fixture
def ses(
    moto_ses_url: str, _moto_ses_admin: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Any:
    """A reset moto SES with the sender's domain verified; the settings choose it over HTTP."""
    from support.moto_ses import SENDER_DOMAIN, SesServer

    use_loopback_ses(monkeypatch, tmp_path, moto_ses_url)
    # moto's SES has no SendBulkEmail: campaigns here go one SendEmail per message. The
    # bulk path is tested against tests/support/ses_sim.py (tests/unit/sending/test_bulk_*).
    monkeypatch.setenv("NEWSLETTER_SES_BULK", "false")
    server = SesServer(moto_ses_url)
    server.reset()
    _moto_ses_admin.create_email_identity(EmailIdentity=SENDER_DOMAIN)
    return server


@pytest.fixture(scope="session", autouse=True)
def _cli_built_once() -> Iterator[None]:
    """typer's ``CliRunner.invoke`` builds the whole click command tree from the Typer app
    at every call (~40 ms for ours, and the quick loop invokes it ~500 times); the real
    ``newsletter`` builds it once per process. Here each app's tree is built once per
    session and reused, as a click command is made to be (each invocation still gets its
    own click context, parsing and output)."""
    import typer.testing
    from typer.main import get_command

    built: dict[int, tuple[Any, Any]] = {}  # id(app) -> (app, its command); app kept alive

    def command(app: Any) -> Any:
        if id(app) not in built:
            built[id(app)] = (app, get_command(app))
        return built[id(app)][1]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(typer.testing, "_get_command", command)
        yield


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/e2e/ is marked ``e2e`` (``pytest -m "not e2e"`` is the fast loop)."""
    e2e = Path(__file__).resolve().parent / "e2e"
    for item in items:
        if e2e in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)
