"""Issue 16 (packaging): `tessera health`, the systemd unit, the compose example and the
container image of packaging/.

The image test builds packaging/Dockerfile around the binary this suite runs (TESSERA_BIN),
starts it with podman and waits for its HEALTHCHECK to pass. No image can be pulled here, so
the base is made from this machine's own files in the layout of the Dockerfile's default base
(gcr.io/distroless/cc-debian12:nonroot: glibc, libgcc, CA certificates, the user 65532); set
TESSERA_TEST_IMAGE_BASE to build on a real base instead. Without a container engine that can
run a container, the test skips and says why.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import tarfile
import time
from pathlib import Path

import pytest
import yaml

from helpers import run_tessera, tessera_bin

REPO = Path(__file__).resolve().parents[2]
PACKAGING = REPO / "packaging"
DOCKERFILE = PACKAGING / "Dockerfile"
UNIT = PACKAGING / "tessera.service"
COMPOSE = PACKAGING / "docker-compose.yml"
# The user distroless' `nonroot` images run as, and the Dockerfile's USER.
NONROOT = 65532


# --------------------------------------------------------------------------
# tessera health


def test_health_passes_on_a_server_that_answers(server):
    result = run_tessera(["health", "--url", server.url + "/health"], timeout=20)
    assert result.returncode == 0, result.stderr
    # Without --url it checks /health on the port of TESSERA_LISTEN, on loopback when the
    # server listens on every address (the image's setting).
    port = server.url.rsplit(":", 1)[1]
    result = run_tessera(["health"], env={"TESSERA_LISTEN": f"0.0.0.0:{port}"}, timeout=20)
    assert result.returncode == 0, result.stderr


def test_health_fails_on_anything_but_200(server):
    result = run_tessera(["health", "--url", server.url + "/no-such-page"], timeout=20)
    assert result.returncode == 1, result
    assert "404" in result.stderr, result.stderr


def test_health_fails_when_nothing_answers():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    result = run_tessera(["health", "--url", f"http://127.0.0.1:{closed_port}/health"], timeout=20)
    assert result.returncode == 1, result
    assert "connecting" in result.stderr, result.stderr

    # A server that accepts and never answers: the check gives up after its few seconds.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        started = time.monotonic()
        result = run_tessera(
            ["health", "--url", f"http://127.0.0.1:{silent.getsockname()[1]}/health"], timeout=30
        )
        elapsed = time.monotonic() - started
    assert result.returncode == 1, result
    assert elapsed < 10, f"the health check took {elapsed:.1f}s"


# --------------------------------------------------------------------------
# the systemd unit


def unit_settings(path: Path) -> dict[str, list[str]]:
    """`Section.Key` to every value given, in order."""
    settings: dict[str, list[str]] = {}
    section = ""
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        settings.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return settings


def test_systemd_unit_runs_serve_as_a_dedicated_user_with_hardening():
    unit = unit_settings(UNIT)
    one = {key: values[-1] for key, values in unit.items()}
    assert one["Service.ExecStart"].split() == ["/usr/local/bin/tessera", "serve"]
    assert one["Service.User"] == "tessera"
    assert one["Service.Restart"] == "on-failure"
    assert one["Service.NoNewPrivileges"] == "yes"
    assert one["Service.ProtectSystem"] == "strict"
    assert one["Service.CapabilityBoundingSet"] == ""
    # The data directory is the state directory systemd makes for the user, and the one path
    # it may write.
    environment = dict(value.split("=", 1) for value in unit["Service.Environment"])
    data_dir = environment["TESSERA_DATA_DIR"]
    assert data_dir == "/var/lib/" + one["Service.StateDirectory"]
    assert one["Service.ReadWritePaths"] == data_dir
    assert one["Install.WantedBy"] == "multi-user.target"


def test_systemd_unit_verifies(tmp_path):
    """`systemd-analyze verify` on a root holding the unit, the system's own units and an
    executable at the unit's ExecStart path (it checks that the program exists)."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    units = next((p for p in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")) if p.is_dir()), None)
    if units is None:
        pytest.skip("no systemd unit directory on this machine to verify against")
    root = tmp_path / "root"
    shutil.copytree(units, root / "usr/lib/systemd/system", symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    shutil.copy(UNIT, root / "etc/systemd/system/tessera.service")
    program = root / "usr/local/bin/tessera"
    program.parent.mkdir(parents=True)
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)

    result = subprocess.run(
        [analyze, "verify", f"--root={root}", "tessera.service"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    # An unknown key or a bad value is only a warning on stderr, with exit status 0.
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr + result.stdout

    # The hardening, as systemd rates it (0 to 100, lower is better; "OK" is below 20).
    result = subprocess.run(
        [analyze, "security", "--offline=yes", f"--root={root}", "--threshold=20", "tessera.service"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Overall exposure level for tessera.service" in result.stdout, result.stdout


# --------------------------------------------------------------------------
# the compose example


def test_compose_example_runs_two_nodes_on_one_database():
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    databases = [name for name, s in services.items() if str(s.get("image", "")).startswith("postgres:")]
    assert len(databases) == 1, services
    database = databases[0]
    nodes = {name: s for name, s in services.items() if s.get("image") == "tessera"}
    assert len(nodes) == 2, services
    for name, node in nodes.items():
        # Built from this repository's Dockerfile, with the context the .dockerignore is for.
        assert (COMPOSE.parent / node["build"]["context"]).resolve() == REPO
        assert (REPO / node["build"]["dockerfile"]).resolve() == DOCKERFILE
        env = node["environment"]
        assert re.fullmatch(rf"postgres://tessera:\$\{{POSTGRES_PASSWORD[^}}]*\}}@{database}:5432/tessera",
                            env["TESSERA_DATABASE_URL"]), env
        assert env["TESSERA_MASTER_KEY"].startswith("${TESSERA_MASTER_KEY:?"), env
        assert node["depends_on"][database]["condition"] == "service_healthy"
    # One database, one master key, one public URL: the same settings on both nodes.
    first, second = nodes.values()
    assert first["environment"] == second["environment"]
    assert len({tuple(n["ports"]) for n in nodes.values()}) == 2
    # The second node waits for the first to be healthy (its HEALTHCHECK, `tessera health`).
    assert any(
        dependency.get("condition") == "service_healthy"
        for node in nodes.values()
        for name, dependency in node["depends_on"].items()
        if name in nodes
    )
    assert "healthcheck" in services[database]


def test_dockerignore_keeps_the_context_to_the_release_binary():
    lines = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert lines == ["*", "!target/release/tessera"]
    assert re.search(r"^COPY target/release/tessera /usr/local/bin/tessera$", DOCKERFILE.read_text(), re.M)


# --------------------------------------------------------------------------
# the container image


def podman(*args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        ["podman", *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def shared_libraries(binary: Path) -> list[Path]:
    """The files `ldd` says the binary loads, under the paths it loads them by."""
    result = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [Path(p) for p in re.findall(r"(/\S+) \(0x", result.stdout)]


def distroless_like_base(binary: Path) -> bytes:
    """A tarball in the layout of gcr.io/distroless/cc-debian12:nonroot, from this machine's
    files: the binary's shared libraries, CA certificates, the users root and nonroot."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        def directory(name: str, mode: int = 0o755, owner: int = 0) -> None:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.uid, info.gid = tarfile.DIRTYPE, mode, owner, owner
            tar.addfile(info)

        def file(name: str, data: bytes, mode: int = 0o644) -> None:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))

        made: set[str] = set()
        for name in ("etc", "etc/ssl", "etc/ssl/certs", "home", "usr", "usr/local", "usr/local/bin", "var", "var/lib"):
            directory(name)
            made.add(name)
        directory("tmp", 0o1777)
        directory("root", 0o700)
        directory("home/nonroot", 0o700, NONROOT)
        file("etc/passwd", (
            "root:x:0:0:root:/root:/sbin/nologin\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
            f"nonroot:x:{NONROOT}:{NONROOT}:nonroot:/home/nonroot:/sbin/nologin\n"
        ).encode())
        file("etc/group", f"root:x:0:\nnobody:x:65534:\nnonroot:x:{NONROOT}:\n".encode())
        file("etc/nsswitch.conf", b"passwd: files\ngroup: files\nhosts: files dns\n")
        file("etc/ssl/certs/ca-certificates.crt", Path("/etc/ssl/certs/ca-certificates.crt").read_bytes())
        for library in shared_libraries(binary):
            parts = library.parts[1:]
            for depth in range(1, len(parts)):
                parent = "/".join(parts[:depth])
                if parent not in made:
                    directory(parent)
                    made.add(parent)
            file("/".join(parts), library.resolve().read_bytes(), 0o755)
    return buffer.getvalue()


def engine_options(base: str, loader: Path) -> tuple[list[str], list[str]]:
    """The first (global options, run options) with which podman runs a container of the
    base (its dynamic loader's --version, so that nothing of tessera is involved); skips with
    every error when none does.

    crun refuses a cgroup v1 host that also mounts a v2 hierarchy with a controller ("cgroups
    in hybrid mode not supported"), where runc runs; and podman's default rlimits (nofile
    1048576, nproc 4194304) may exceed what a sandboxed host lets a container have, where
    lower explicit ones are set."""
    runtimes = [[]] + ([["--runtime", "runc"]] if shutil.which("runc") else [])
    limits = ["--ulimit=nofile=8192:8192", "--ulimit=nproc=8192:8192"]
    errors = []
    for global_options in runtimes:
        for run_options in ([], limits):
            command = [*global_options, "run", "--rm", "--network=none", *run_options, base,
                       str(loader), "--version"]
            result = podman(*command, timeout=120, check=False)
            if result.returncode == 0:
                return global_options, run_options
            errors.append(f"`podman {' '.join(command)}`: {result.stderr.strip()}")
    pytest.skip("podman cannot run a container on this machine: " + "; ".join(errors))


@pytest.fixture
def podman_images():
    """Removes the images a test names in the list it is given, and checks that nothing else
    (an intermediate image, a dangling layer) is left behind."""
    if shutil.which("podman") is None:
        pytest.skip("no container engine: podman is not installed (apt-get install podman runc)")
    info = podman("info", "--format", "{{.Store.GraphDriverName}}", check=False, timeout=120)
    if info.returncode != 0:
        pytest.skip(f"podman is installed but does not work: `podman info`: {info.stderr.strip()}")
    before = set(podman("images", "--all", "--quiet", "--no-trunc").stdout.split())
    names: list[str] = []
    yield names
    for name in reversed(names):
        podman("rmi", "--force", name, check=False)
    left = set(podman("images", "--all", "--quiet", "--no-trunc").stdout.split()) - before
    for image in left:
        podman("rmi", "--force", image, check=False)
    assert not left, f"the image build left images behind: {left}"


def test_image_builds_from_the_tested_binary_and_passes_its_health_check(podman_images, tmp_path):
    binary = tessera_bin().resolve()
    assert binary.is_file(), f"no tessera binary at {binary}"
    version = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=60).stdout
    assert re.fullmatch(r"tessera \S+ \(\S+\)\n", version), version
    token = secrets.token_hex(4)

    base = os.environ.get("TESSERA_TEST_IMAGE_BASE")
    if not base:
        base = f"localhost/tessera-test-base:{token}"
        podman_images.append(base)
        imported = subprocess.run(
            ["podman", "import", "--quiet", "-", base],
            input=distroless_like_base(binary), capture_output=True, timeout=300,
        )
        assert imported.returncode == 0, imported.stderr.decode(errors="replace")

    # The build context: the repository itself when the tested binary is its release binary
    # (the .dockerignore then sends only that file); otherwise a directory holding the tested
    # binary where the Dockerfile copies it from, linked rather than copied where it can be.
    if binary == (REPO / "target/release/tessera").resolve():
        context = REPO
    else:
        context = tmp_path / "context"
        (context / "target/release").mkdir(parents=True)
        try:
            os.link(binary, context / "target/release/tessera")
        except OSError:
            shutil.copy2(binary, context / "target/release/tessera")
        shutil.copy(REPO / ".dockerignore", context / ".dockerignore")

    loader = next(path for path in shared_libraries(binary) if path.name.startswith("ld-linux"))
    global_options, run_options = engine_options(base, loader)

    image = f"localhost/tessera-test:{token}"
    podman_images.append(image)
    started = time.monotonic()
    # Docker's image format: the OCI format has no HEALTHCHECK and podman would drop it.
    # --layers=false: no intermediate images to clean up.
    pull = [] if os.environ.get("TESSERA_TEST_IMAGE_BASE") else ["--pull=never"]
    podman("build", "--format=docker", "--layers=false", *pull, f"--build-arg=BASE={base}",
           "--file", str(DOCKERFILE), "--tag", image, str(context), timeout=600)
    build_seconds = time.monotonic() - started

    inspected = json.loads(podman("image", "inspect", image).stdout)[0]
    config = inspected["Config"]
    assert config["User"] == f"{NONROOT}:{NONROOT}", config
    assert config["Entrypoint"] == ["/usr/local/bin/tessera"], config
    assert config["Cmd"] == ["serve"], config
    assert "9229/tcp" in config["ExposedPorts"], config
    # Podman keeps the health check beside the OCI configuration (Docker inside it).
    health = inspected.get("Healthcheck") or config.get("Healthcheck")
    assert health and health["Test"] == ["CMD", "/usr/local/bin/tessera", "health"], inspected

    # The binary in the image is the tested one, byte for byte, and says the same revision.
    inside = tmp_path / "inside"
    container = f"tessera-test-{token}"
    podman("create", "--name", container, image)
    try:
        podman("cp", f"{container}:/usr/local/bin/tessera", str(inside))
    finally:
        podman("rm", "--force", container, check=False)
    assert inside.read_bytes() == binary.read_bytes(), "the image holds another binary than the tested one"

    run = [*global_options, "run", "--network=none", *run_options]
    assert podman(*run, "--rm", image, "--version").stdout == version

    # The health check runs inside the container, on its own loopback: no network needed.
    started = time.monotonic()
    # On a volume, as the README runs it: the volume takes the directory's owner from the image.
    podman(*run, "--detach", "--name", container, "--volume", "/var/lib/tessera", image)
    try:
        deadline = started + 60
        while True:
            check = podman(*global_options, "healthcheck", "run", container, check=False, timeout=30)
            if check.returncode == 0:
                break
            state = podman("inspect", "--format", "{{.State.Status}}", container, check=False).stdout.strip()
            if state != "running" or time.monotonic() > deadline:
                logs = podman("logs", container, check=False)
                raise AssertionError(
                    f"the container never became healthy (state {state}): {check.stdout}{check.stderr}\n"
                    f"logs:\n{logs.stdout}{logs.stderr}"
                )
            time.sleep(0.5)
        healthy_seconds = time.monotonic() - started
        status = podman("inspect", "--format", "{{.State.Health.Status}}", container).stdout.strip()
        assert status == "healthy", status
        # It runs as the non-root user and wrote its state to the data directory it owns.
        assert podman("exec", container, "/usr/local/bin/tessera", "--version").stdout == version
        logs = podman("logs", container)
        assert "tessera listening on http://0.0.0.0:9229" in logs.stdout, logs.stdout + logs.stderr
        assert "/var/lib/tessera/master.key" in logs.stderr, logs.stderr
        top = podman("top", container, "user", "args").stdout
        assert re.search(r"^(nonroot|65532)\s+/usr/local/bin/tessera serve\s*$", top, re.M), top
    finally:
        podman(*global_options, "rm", "--force", "--volumes", "--time=5", container, check=False, timeout=60)
    print(f"\nimage build {build_seconds:.1f}s, container start to healthy {healthy_seconds:.1f}s "
          f"(podman {' '.join([*global_options, 'run', *run_options])})")
