"""A crash loses nothing that was acknowledged.

The server is killed with SIGKILL (no shutdown code runs) in the middle of a sign-up and
sign-in load, then started again on the same data directory and database, three times over.
Every write the server answered with HTTP 200 must be there after each restart; a write
that got no answer may or may not have landed, but only as a whole: the user is then in the
state before it or after it, never in between. The restart must not be refused because of
the dead process's `<database>.lock` (an OS lock, released when its holder dies), and the
SQLite file must pass `PRAGMA integrity_check`.

What this shows about durability, and what it cannot: a process kill leaves everything that
SQLite had written with write(2) in the operating system's page cache, so it proves that
tessera answers only after its transaction committed and that SQLite's WAL recovery brings
the database back. It does not simulate a power loss; that depends on the fsyncs SQLite
makes at commit (see the comment at `PRAGMA journal_mode=WAL` in tessera-store's store.rs).
"""

from __future__ import annotations

import os
import random
import secrets
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import botocore
import botocore.exceptions
from botocore.config import Config

from helpers import REGION, App, boto_session, error_code, tessera_bin, unique

CYCLES = 3
WORKERS = 12
# Writes acknowledged in a cycle before the kill may come; the kill itself then waits a
# random moment more, so that it falls at a different point of a request each cycle.
ACKS_BEFORE_KILL = 20
KILL_DELAY = (0.5, 2.5)
# Issuers are `<public url>/<pool id>`, and the default public URL names the listening port,
# which is another ephemeral port after each restart: a fixed one keeps the tokens issued
# before a kill valid after it, as they are for a server behind a stable name.
PUBLIC_URL = ["--public-url", "http://crash.tessera.test"]

# The steps of one account, in the order a worker runs them. "activate" is AdminConfirmSignUp
# for an account made by SignUp and AdminSetUserPassword (Permanent) for one made by
# AdminCreateUser; "sign_in" is InitiateAuth USER_PASSWORD_AUTH, which stores a refresh
# token; the updates set given_name to "v1" and then "v2" (it is "v0" at creation).
STEPS = ["create", "activate", "sign_in", "update_1", "update_2"]
GIVEN_NAME_AFTER = {"create": "v0", "update_1": "v1", "update_2": "v2"}
INITIAL_STATUS = {"sign-up": "UNCONFIRMED", "admin": "FORCE_CHANGE_PASSWORD"}


def client(server, signed: bool = True):
    """A boto3 client that sends each request once. The suite's clients allow botocore one
    retry (its `max_attempts` counts retries, not attempts), which would resend a request
    whose connection the kill closed and turn the answer lost in flight into a refused
    connection to the dead server, or resend a write that landed."""
    akid, secret = server.root_credentials() if signed else (None, None)
    config = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=20)
    if not signed:
        config = config.merge(Config(signature_version=botocore.UNSIGNED))
    return boto_session().client(
        "cognito-idp",
        region_name=REGION,
        endpoint_url=server.url,
        aws_access_key_id=akid,
        aws_secret_access_key=secret,
        config=config,
    )


@dataclass
class Account:
    """What the server was asked to do for one user, and what it acknowledged."""

    username: str
    path: str  # "sign-up" or "admin"
    password: str
    # step -> "ack" (HTTP 200 received), "unknown" (sent, no answer: the server died) or
    # "unsent" (connection refused: the server was already dead)
    outcomes: dict[str, str] = field(default_factory=dict)
    refresh_token: str | None = None
    access_token: str | None = None

    def acked(self, step: str) -> bool:
        return self.outcomes.get(step) == "ack"

    def unknown(self, step: str) -> bool:
        return self.outcomes.get(step) == "unknown"

    def possible_given_names(self) -> set[str]:
        """given_name after the last acknowledged update, or after the one in flight."""
        acked = [GIVEN_NAME_AFTER[s] for s in STEPS if s in GIVEN_NAME_AFTER and self.acked(s)]
        in_flight = [GIVEN_NAME_AFTER[s] for s in STEPS if s in GIVEN_NAME_AFTER and self.unknown(s)]
        return set(acked[-1:] + in_flight) or {"v0"}

    def possible_statuses(self) -> set[str]:
        if self.acked("activate"):
            return {"CONFIRMED"}
        if self.unknown("activate"):
            return {INITIAL_STATUS[self.path], "CONFIRMED"}
        return {INITIAL_STATUS[self.path]}


class Ledger:
    """Every account the load touched, across all cycles, and the errors it met."""

    def __init__(self):
        self.accounts: list[Account] = []
        self.refused: list[str] = []  # answered with an error: never expected under this load
        self.lost_answers_before_kill: list[str] = []
        # requests the kill cut off after they were sent: the writes this test is about
        self.in_flight_at_kill = 0
        self.lock = threading.Lock()
        self.cycle_acks = 0

    def add(self, account: Account) -> None:
        with self.lock:
            self.accounts.append(account)

    def ack(self) -> None:
        with self.lock:
            self.cycle_acks += 1


class Load:
    """WORKERS threads creating, activating, signing in and updating accounts until the
    server stops answering."""

    def __init__(self, app: App, ledger: Ledger, cycle: int):
        self.app = app
        self.ledger = ledger
        self.cycle = cycle
        self.killed = threading.Event()
        # botocore clients are safe to share between threads, but their creation is not,
        # and each has a connection pool of 10: one pair per worker, made here.
        self.clients = [
            (client(app.server), client(app.server, signed=False)) for _ in range(WORKERS)
        ]
        self.threads = [
            threading.Thread(target=self._work, args=(n,), daemon=True) for n in range(WORKERS)
        ]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def join(self) -> None:
        for t in self.threads:
            t.join(60)
            assert not t.is_alive(), "a load worker did not stop after the kill"

    def _lost(self, what: str) -> None:
        if not self.killed.is_set():
            with self.ledger.lock:
                self.ledger.lost_answers_before_kill.append(what)

    def _work(self, n: int) -> None:
        idp, public = self.clients[n]
        pool_id, client_id = self.app.pool_id, self.app.client_id
        i = 0
        while True:
            i += 1
            path = "sign-up" if (n + i) % 2 else "admin"
            account = Account(
                username=f"c{self.cycle}-w{n}-{i}-{secrets.token_hex(3)}",
                path=path,
                password=secrets.token_urlsafe(12),
            )
            self.ledger.add(account)
            name = account.username

            def create():
                if path == "sign-up":
                    public.sign_up(
                        ClientId=client_id,
                        Username=name,
                        Password=account.password,
                        UserAttributes=[{"Name": "given_name", "Value": "v0"}],
                    )
                else:
                    idp.admin_create_user(
                        UserPoolId=pool_id,
                        Username=name,
                        MessageAction="SUPPRESS",
                        UserAttributes=[{"Name": "given_name", "Value": "v0"}],
                    )

            def activate():
                if path == "sign-up":
                    idp.admin_confirm_sign_up(UserPoolId=pool_id, Username=name)
                else:
                    idp.admin_set_user_password(
                        UserPoolId=pool_id, Username=name, Password=account.password, Permanent=True
                    )

            def sign_in():
                result = public.initiate_auth(
                    ClientId=client_id,
                    AuthFlow="USER_PASSWORD_AUTH",
                    AuthParameters={"USERNAME": name, "PASSWORD": account.password},
                )["AuthenticationResult"]
                account.refresh_token = result["RefreshToken"]
                account.access_token = result["AccessToken"]

            def update(value):
                return lambda: idp.admin_update_user_attributes(
                    UserPoolId=pool_id,
                    Username=name,
                    UserAttributes=[{"Name": "given_name", "Value": value}],
                )

            calls = {
                "create": create,
                "activate": activate,
                "sign_in": sign_in,
                "update_1": update("v1"),
                "update_2": update("v2"),
            }
            for step in STEPS:
                # Marked before the request leaves: from here until the answer, the write
                # may or may not land.
                account.outcomes[step] = "unknown"
                try:
                    calls[step]()
                except botocore.exceptions.ClientError as exc:
                    # An answer, so not a lost write, but nothing in this load should be
                    # refused: the test would then prove less than it claims.
                    account.outcomes[step] = f"refused {error_code(exc)}"
                    with self.ledger.lock:
                        self.ledger.refused.append(f"{name} {step}: {exc}")
                    return
                except botocore.exceptions.EndpointConnectionError as exc:
                    # The connection was refused: the request never reached a server, so
                    # it cannot have landed.
                    account.outcomes[step] = "unsent"
                    self._lost(f"{name} {step}: {exc!r}")
                    return
                except botocore.exceptions.BotoCoreError as exc:
                    # Sent, and the connection closed without an answer: it stays "unknown".
                    with self.ledger.lock:
                        self.ledger.in_flight_at_kill += 1
                    self._lost(f"{name} {step}: {exc!r}")
                    return
                account.outcomes[step] = "ack"
                self.ledger.ack()


def check_real_process(server) -> None:
    """SIGKILL must reach tessera itself, not a wrapper that would leave it running."""
    exe = Path(f"/proc/{server.proc.pid}/exe")
    if exe.exists():
        # " (deleted)" is appended when the binary was rebuilt while it runs
        running = os.readlink(exe).split(" ")[0]
        assert Path(running).name == tessera_bin().resolve().name, (
            f"the server's process runs {running}, not {tessera_bin()}: kill -9 would hit a wrapper"
        )


def sqlite_integrity(store) -> None:
    """PRAGMA integrity_check on the database file, read-only (WAL lets a reader in beside
    a running server)."""
    path = store.data_dir / "tessera.db"
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        result = [row[0] for row in conn.execute("PRAGMA integrity_check").fetchall()]
        assert result == ["ok"], f"integrity_check: {result}"
    finally:
        conn.close()


def verify(app: App, ledger: Ledger) -> None:
    """Every acknowledged write of every account is on the (restarted) server."""
    server = app.server
    problems: list[str] = []
    lock = threading.Lock()
    local = threading.local()

    def clients():
        # one pair per verifying thread, made under the lock (client creation is not
        # thread-safe)
        if not hasattr(local, "idp"):
            with lock:
                local.idp, local.public = client(server), client(server, signed=False)
        return local.idp, local.public

    def problem(account: Account, what: str) -> None:
        with lock:
            problems.append(f"{account.username} ({account.path}, {account.outcomes}): {what}")

    def sign_in(public, account):
        return public.initiate_auth(
            ClientId=app.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": account.username, "PASSWORD": account.password},
        )

    def check(account: Account) -> None:
        idp, public = clients()
        try:
            user = idp.admin_get_user(UserPoolId=app.pool_id, Username=account.username)
        except idp.exceptions.UserNotFoundException:
            if account.acked("create"):
                problem(account, "acknowledged user is missing")
            return
        if account.outcomes.get("create") not in ("ack", "unknown"):
            problem(account, "exists, but its creation never reached the server")
            return
        status = user["UserStatus"]
        if status not in account.possible_statuses():
            problem(account, f"status {status}, expected one of {sorted(account.possible_statuses())}")
        given_name = {a["Name"]: a["Value"] for a in user["UserAttributes"]}.get("given_name")
        if given_name not in account.possible_given_names():
            problem(
                account,
                f"given_name {given_name!r}, expected one of {sorted(account.possible_given_names())}",
            )
        # A confirmed user, whether or not its confirmation was acknowledged, signs in with
        # its password: the password and the status are written together.
        if status == "CONFIRMED":
            try:
                sign_in(public, account)
            except botocore.exceptions.ClientError as exc:
                problem(account, f"confirmed, but sign-in with its password fails: {exc}")
        if account.acked("sign_in"):
            try:
                public.initiate_auth(
                    ClientId=app.client_id,
                    AuthFlow="REFRESH_TOKEN_AUTH",
                    AuthParameters={"REFRESH_TOKEN": account.refresh_token},
                )
            except botocore.exceptions.ClientError as exc:
                problem(account, f"acknowledged refresh token refused: {exc}")
            try:
                public.get_user(AccessToken=account.access_token)
            except botocore.exceptions.ClientError as exc:
                problem(account, f"acknowledged access token refused: {exc}")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(check, ledger.accounts))

    # Nothing appears that no one asked for.
    attempted = {a.username for a in ledger.accounts}
    listed = app.usernames()
    strangers = sorted(set(listed) - attempted)
    if strangers:
        problems.append(f"users nobody created: {strangers[:10]}")
    if len(listed) != len(set(listed)):
        problems.append("ListUsers lists a user twice")

    assert not problems, f"{len(problems)} problem(s) after restart:\n" + "\n".join(problems[:30])


def test_kill_9_under_load_loses_no_acknowledged_write(server_factory):
    rng = random.Random()
    server = server_factory.start(name="crash-0", extra_args=PUBLIC_URL)
    store = server.store
    app = App.create(
        server,
        client={"ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]},
        PoolName=unique("crash"),
        Policies={
            "PasswordPolicy": {
                "MinimumLength": 6,
                "RequireUppercase": False,
                "RequireLowercase": False,
                "RequireNumbers": False,
                "RequireSymbols": False,
            }
        },
    )
    ledger = Ledger()

    for cycle in range(1, CYCLES + 1):
        check_real_process(server)
        ledger.cycle_acks = 0
        load = Load(app, ledger, cycle)
        load.start()
        # Waiting for a count of acknowledgements rather than a fixed time: the kill must
        # come while the load is running on however slow a machine.
        deadline = time.monotonic() + 60
        while ledger.cycle_acks < ACKS_BEFORE_KILL and time.monotonic() < deadline:
            if not all(t.is_alive() for t in load.threads):
                break
            time.sleep(0.05)
        time.sleep(rng.uniform(*KILL_DELAY))
        load.killed.set()
        server.kill()  # SIGKILL
        load.join()
        server.stop()  # collects the exit status and saves the log
        assert server.returncode == -9, f"cycle {cycle}: exit status {server.returncode}"
        assert not ledger.refused, f"cycle {cycle}: requests refused under load:\n" + "\n".join(
            ledger.refused[:20]
        )
        assert not ledger.lost_answers_before_kill, (
            f"cycle {cycle}: requests lost before the kill:\n"
            + "\n".join(ledger.lost_answers_before_kill[:20])
        )
        assert ledger.cycle_acks >= ACKS_BEFORE_KILL, (
            f"cycle {cycle}: only {ledger.cycle_acks} writes acknowledged before the kill"
        )
        if store.backend == "sqlite":
            # The dead server's lock file is still there: the restart must not depend on
            # anyone removing it.
            assert (store.data_dir / "tessera.db.lock").exists()

        server = server_factory.start(store, name=f"crash-{cycle}", extra_args=PUBLIC_URL)
        assert "another tessera server" not in server.output
        app = App(server, server.client(), server.unsigned_client(), app.pool, app.client)
        verify(app, ledger)
        if store.backend == "sqlite":
            sqlite_integrity(store)

    # With a dozen workers always busy, the kills cut requests off in flight; if none ever
    # did, the test would have shown nothing about writes in progress at a crash.
    assert ledger.in_flight_at_kill > 0, "no request was in flight at any kill"
    assert server.stop() == 0, server.output
    if store.backend == "sqlite":
        sqlite_integrity(store)
