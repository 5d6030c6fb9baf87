"""Connections are bounded: slow and idle clients are closed by the header-read and keep-alive
timeouts, normal requests keep being answered while hundreds of them are open, and the cap on
concurrent connections holds (past it, a connection waits for a slot; an idle kept-alive
connection is closed to make room).

Every wait here is a hang guard (HANG seconds, reached only when something is broken); no
assertion depends on how fast the server is.
"""

from __future__ import annotations

import resource
import select
import socket
import threading
import time

import requests

HANG = 30.0
SLOW = 100  # connections of each slow kind in the first test
HEALTH = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def ensure_open_files(needed: int) -> None:
    """Raises this process's soft open-file limit (inherited by the servers it starts)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        assert target >= needed, f"the open-file limit ({hard}) is below the {needed} this test needs"
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def address(server) -> tuple[str, int]:
    host, port = server.url.removeprefix("http://").split(":")
    return host, int(port)


def connect(server) -> socket.socket:
    sock = socket.create_connection(address(server), timeout=HANG)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_response(sock: socket.socket) -> bytes:
    """Reads one response to GET /health (it has a Content-Length) and returns its head."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, f"the connection closed before a response: {data!r}"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(4096)
        assert chunk, "the connection closed inside a response body"
        body += chunk
    return head


def kept_alive(server) -> socket.socket:
    """A connection that has been answered once and is now idle."""
    sock = connect(server)
    sock.sendall(HEALTH)
    head = read_response(sock)
    assert head.startswith(b"HTTP/1.1 200"), head
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server has closed `sock` (end of file or reset); never blocks."""
    while True:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        try:
            if not sock.recv(4096):
                return True
        except (ConnectionResetError, BrokenPipeError):
            return True


def wait_until_closed(socks: list[socket.socket], deadline: float) -> list[socket.socket]:
    """Waits until the server has closed every socket in `socks` or `deadline` passes;
    returns those still open."""
    still_open = list(socks)
    while still_open and time.monotonic() < deadline:
        select.select(still_open, [], [], 0.2)
        still_open = [s for s in still_open if not closed_by_server(s)]
    return still_open


def close_all(socks) -> None:
    for sock in socks:
        try:
            sock.close()
        except OSError:
            pass


def test_slow_and_idle_connections_are_closed_and_normal_requests_answered(server_factory):
    ensure_open_files(4 * SLOW + 200)
    server = server_factory.start(
        name="connections-slow",
        extra_args=[
            "--header-read-timeout", "2",
            "--keep-alive-timeout", "3",
            "--max-connections", str(4 * SLOW),
        ],
    )
    idp = server.client()
    silent: list[socket.socket] = []
    trickling: list[socket.socket] = []
    idle: list[socket.socket] = []
    stop_trickle = threading.Event()
    try:
        # Connections that send nothing at all.
        silent = [connect(server) for _ in range(SLOW)]
        # Connections sending a head that never ends, one byte at a time: bytes keep coming,
        # so only a deadline on the whole head closes them.
        trickling = [connect(server) for _ in range(SLOW)]
        for sock in trickling:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        # Kept-alive connections, idle after one complete request.
        idle = [kept_alive(server) for _ in range(SLOW)]

        def trickle():
            live = list(trickling)
            while live and not stop_trickle.wait(0.3):
                for sock in list(live):
                    try:
                        sock.send(b"a")
                    except OSError:
                        live.remove(sock)

        trickler = threading.Thread(target=trickle, daemon=True)
        trickler.start()

        # With all of them open, normal clients are answered.
        for _ in range(3):
            assert requests.get(f"{server.url}/health", timeout=HANG).status_code == 200
            assert "UserPools" in idp.list_user_pools(MaxResults=10)

        deadline = time.monotonic() + HANG
        for kind, socks in (("silent", silent), ("trickling", trickling), ("idle", idle)):
            still_open = wait_until_closed(socks, deadline)
            assert not still_open, f"{len(still_open)} of {len(socks)} {kind} connections were not closed"

        # And the server still answers afterwards.
        assert "UserPools" in idp.list_user_pools(MaxResults=10)
    finally:
        stop_trickle.set()
        close_all(silent + trickling + idle)
    assert "panicked" not in server.output


def test_a_connection_past_the_cap_waits_for_a_slot(server_factory):
    cap = 50
    ensure_open_files(cap + 200)
    # Timeouts far beyond the test's length: only the client can free a slot here.
    server = server_factory.start(
        name="connections-cap",
        extra_args=["--max-connections", str(cap), "--header-read-timeout", "600"],
    )
    holders: list[socket.socket] = []
    probe = None
    try:
        # Connections that have sent nothing are not idle kept-alive connections, so none of
        # them is closed to make room: together they hold every slot.
        holders = [connect(server) for _ in range(cap)]
        probe = connect(server)
        probe.sendall(HEALTH)
        # Past the cap the request waits. Without a cap it would be answered within
        # milliseconds; the second only bounds how long the test looks, and with the cap
        # nothing can arrive, however slow the machine.
        readable, _, _ = select.select([probe], [], [], 1.0)
        assert not readable, "a connection past the cap was served while every slot was held"
        # Freeing one slot lets it through.
        holders.pop().close()
        head = read_response(probe)
        assert head.startswith(b"HTTP/1.1 200"), head
    finally:
        close_all(holders + ([probe] if probe else []))
    assert server.client().list_user_pools(MaxResults=10)["UserPools"] is not None


def test_an_idle_connection_makes_room_at_the_cap(server_factory):
    cap = 50
    ensure_open_files(cap + 200)
    # Neither timeout can close anything during the test.
    server = server_factory.start(
        name="connections-idle-cap",
        extra_args=[
            "--max-connections", str(cap),
            "--header-read-timeout", "600",
            "--keep-alive-timeout", "600",
        ],
    )
    idle: list[socket.socket] = []
    try:
        idle = [kept_alive(server) for _ in range(cap)]
        # A new client at the cap is answered: an idle connection is closed to make room
        # (the client's own read timeout, 20 s, fails the call on a hang).
        assert "UserPools" in server.client().list_user_pools(MaxResults=10)
        # The room came from an idle connection, closed by the server: neither timeout can
        # have done it, so this fails without the cap's handling.
        deadline = time.monotonic() + HANG
        closed = []
        while not closed and time.monotonic() < deadline:
            select.select(idle, [], [], 0.2)
            closed = [s for s in idle if closed_by_server(s)]
        assert closed, "no idle connection was closed to make room at the cap"
    finally:
        close_all(idle)
