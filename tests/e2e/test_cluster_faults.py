"""Issue 16's fault test: two tessera nodes on one PostgreSQL database behind a loopback
round-robin, under sign-up, sign-in and revocation load. One node is killed with SIGKILL and
started again; then PostgreSQL itself is restarted. Afterwards, on both nodes:

- every sign-up a node acknowledged (HTTP 200) is there, once, with the user count in step;
- every revocation a node acknowledged is honoured by both nodes, including those whose
  notification was sent while a node was dead or the database was restarting (each node's
  read cache forgets everything when its notification connection is lost).

A request that got no answer may or may not have landed; it is not counted either way.

This test restarts the PostgreSQL server the suite runs on (the conftest runs it last).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time

import botocore
import botocore.exceptions
import pytest
from botocore.config import Config

from auth_support import REVOKED_ACCESS, REVOKED_REFRESH, start_cluster
from helpers import (
    CLUSTER_STALENESS_SECONDS,
    REGION,
    App,
    boto_session,
    eventually,
    expect_error,
    store_query,
    unique,
)

PASSWORD = "Passw0rd!x"
SIGN_UP_WORKERS = 4
REVOKE_WORKERS = 2
SIGN_IN_WORKERS = 2

pytestmark = pytest.mark.restarts_postgres


class RoundRobin:
    """A loopback TCP balancer: each new connection goes to the next node that accepts it.
    Connections are spliced byte for byte, so keep-alive connections stay with their node, as
    behind a layer-4 load balancer; a node's death closes the connections it held."""

    def __init__(self, nodes):
        self.nodes = list(nodes)
        self.next = 0
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def replace(self, index, node):
        with self.lock:
            self.nodes[index] = node

    def _backend(self):
        for _ in range(len(self.nodes)):
            with self.lock:
                node = self.nodes[self.next % len(self.nodes)]
                self.next += 1
            host, port = node.url.removeprefix("http://").split(":")
            try:
                return socket.create_connection((host, int(port)), timeout=2)
            except OSError:
                continue
        return None

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            backend = self._backend()
            if backend is None:
                client.close()
                continue
            for src, dst in ((client, backend), (backend, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.closed = True
        self.sock.close()


def once_client(url, signed_by=None):
    """A client that sends each request once: a retried write could land twice or turn a lost
    answer into an error from the other node."""
    config = Config(retries={"total_max_attempts": 1}, connect_timeout=3, read_timeout=15)
    if signed_by is None:
        config = config.merge(Config(signature_version=botocore.UNSIGNED))
        akid = secret = None
    else:
        akid, secret = signed_by.root_credentials()
    return boto_session().client(
        "cognito-idp",
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id=akid,
        aws_secret_access_key=secret,
        config=config,
    )


def restart_postgres():
    """Restarts the local PostgreSQL server (fast shutdown: every connection is cut) and waits
    until it answers again."""
    clusters = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True).stdout
    version, name = clusters.split()[:2]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, name, "restart", "-m", "fast"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    for _ in range(120):
        if subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"]).returncode == 0:
            return
        time.sleep(0.25)
    raise AssertionError("PostgreSQL did not come back within 30 s")


@pytest.fixture
def cluster(backend, server_factory):
    if backend != "postgres":
        pytest.skip("several nodes share one database only with PostgreSQL")
    if shutil.which("pg_ctlcluster") is None or os.geteuid() != 0:
        pytest.fail("the fault test restarts PostgreSQL with pg_ctlcluster, as root")
    return server_factory, start_cluster(server_factory, 2)


def test_issue16_no_acknowledged_write_is_lost_through_a_killed_node_and_a_database_restart(cluster):
    factory, nodes = cluster
    app = App.create(
        nodes[0],
        client={"ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]},
    )
    pool_id, client_id = app.pool_id, app.client_id
    admin = nodes[0].client()
    # Users for the sign-in and revocation workers, made before the load.
    ready = []
    for _ in range(8):
        name = unique("ready")
        admin.admin_create_user(UserPoolId=pool_id, Username=name, MessageAction="SUPPRESS")
        admin.admin_set_user_password(UserPoolId=pool_id, Username=name, Password=PASSWORD, Permanent=True)
        ready.append(name)

    balancer = RoundRobin(nodes)
    stop = threading.Event()
    lock = threading.Lock()
    signed_up: list[str] = []
    revoked: list[dict] = []
    counts = {"sign_up": 0, "sign_in": 0, "revoke": 0, "failed": 0}

    def failed():
        with lock:
            counts["failed"] += 1
        time.sleep(0.05)

    def sign_up_worker():
        public = once_client(balancer.url)
        while not stop.is_set():
            name = unique("load")
            try:
                public.sign_up(ClientId=client_id, Username=name, Password=PASSWORD)
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
                failed()
                continue
            with lock:
                signed_up.append(name)
                counts["sign_up"] += 1

    def sign_in(public, name):
        return public.initiate_auth(
            ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": name, "PASSWORD": PASSWORD}
        )["AuthenticationResult"]

    def sign_in_worker(i):
        public = once_client(balancer.url)
        while not stop.is_set():
            try:
                tokens = sign_in(public, ready[i % len(ready)])
                public.get_user(AccessToken=tokens["AccessToken"])
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
                failed()
                continue
            with lock:
                counts["sign_in"] += 1

    def revoke_worker(i):
        public = once_client(balancer.url)
        while not stop.is_set():
            try:
                tokens = sign_in(public, ready[(i + 4) % len(ready)])
                # Through the balancer the next connection may be the other node: it sees
                # (and caches) the live session before it is revoked.
                once_client(balancer.url).get_user(AccessToken=tokens["AccessToken"])
                public.revoke_token(Token=tokens["RefreshToken"], ClientId=client_id)
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
                failed()
                continue
            with lock:
                revoked.append(tokens)
                counts["revoke"] += 1

    threads = [threading.Thread(target=sign_up_worker) for _ in range(SIGN_UP_WORKERS)]
    threads += [threading.Thread(target=sign_in_worker, args=(i,)) for i in range(SIGN_IN_WORKERS)]
    threads += [threading.Thread(target=revoke_worker, args=(i,)) for i in range(REVOKE_WORKERS)]
    for t in threads:
        t.start()
    try:
        time.sleep(2)
        # Node 1 dies mid-request and comes back on the same data directory.
        nodes[1].proc.kill()
        nodes[1].proc.wait(5)
        time.sleep(1)
        restarted = factory.start(
            nodes[1].store, name="node1-again", extra_args=nodes[1].extra_args, env=nodes[1].env
        )
        balancer.replace(1, restarted)
        nodes = [nodes[0], restarted]
        time.sleep(2)
        # Then the database restarts under both nodes.
        restart_postgres()
        time.sleep(3)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
        balancer.close()
    print(counts)
    assert counts["sign_up"] > 20 and counts["revoke"] > 5 and counts["sign_in"] > 5, counts
    time.sleep(CLUSTER_STALENESS_SECONDS)

    # Every acknowledged sign-up is there, once, on both nodes.
    rows = store_query(
        nodes[0].store, "SELECT username, sub FROM users WHERE pool_id = ?", (pool_id,)
    )
    names = [row[0] for row in rows]
    assert len(names) == len(set(names))
    assert len({row[1] for row in rows}) == len(rows), "two users share a sub"
    missing = set(signed_up) - set(names)
    assert not missing, f"{len(missing)} acknowledged sign-ups were lost: {sorted(missing)[:5]}"
    for node in nodes:
        idp = node.client()
        estimated = idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]["EstimatedNumberOfUsers"]
        assert estimated == len(rows), (estimated, len(rows))
        for name in signed_up[:: max(1, len(signed_up) // 25)]:
            assert idp.admin_get_user(UserPoolId=pool_id, Username=name)["UserStatus"] == "UNCONFIRMED"

    # Every acknowledged revocation holds on both nodes.
    for node in nodes:
        public = once_client(node.url)
        for tokens in revoked:
            eventually(
                lambda: expect_error(
                    "NotAuthorizedException", public.get_user, AccessToken=tokens["AccessToken"], message=REVOKED_ACCESS
                )
            )
            expect_error(
                "NotAuthorizedException",
                public.initiate_auth,
                ClientId=client_id,
                AuthFlow="REFRESH_TOKEN_AUTH",
                AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]},
                message=REVOKED_REFRESH,
            )
        # And the nodes still work.
        assert public.initiate_auth(
            ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": ready[0], "PASSWORD": PASSWORD}
        )["AuthenticationResult"]["AccessToken"]
