"""BuildKit sessions against the real daemon: a registry that asks for a
password, secrets from a file and a variable that reach no image, output or
report, SSH agents, and a session closed when the run is stopped."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from tests.conftest import AuthRegistry
from tests.engine.dockerutil import SocketMeter, bakery, containers, write_tree
from tests.engine.test_build import read_file

pytestmark = pytest.mark.docker
BUILDERS = ["classic", "buildkit"]


def docker_config(folder: Path, registry: AuthRegistry, password: str | None = None) -> Path:
    """A DOCKER_CONFIG of the test's own, logged in to ``registry``."""
    folder.mkdir(parents=True, exist_ok=True)
    auth = base64.b64encode(f"{registry.user}:{password or registry.password}".encode()).decode()
    (folder / "config.json").write_text(json.dumps({"auths": {registry.address: {"auth": auth}}}))
    return folder


@pytest.fixture
def base_in_registry(client: docker.DockerClient, auth_registry: AuthRegistry, prefix: str) -> str:
    """An image that is only in the registry with auth, not on the daemon."""
    ref = f"{auth_registry.address}/{prefix}-base:1"
    client.images.get("bakery-busybox:latest").tag(ref)
    auth = {"username": auth_registry.user, "password": auth_registry.password}
    for line in client.api.push(ref, auth_config=auth, stream=True, decode=True):
        assert "error" not in line, line
    client.images.remove(ref)
    # What a build pulls again, the prefix fixture removes: the tag starts with it.
    return ref


SHARED = """\
FROM {base} AS base
RUN echo {nonce} > /base

FROM base AS a
RUN echo a > /a

FROM base AS b
RUN echo b > /b
"""


def one_target(folder: Path, prefix: str, base: str) -> None:
    """Target a of SHARED, FROM ``base``."""
    write_tree(
        folder,
        {
            "Dockerfile": SHARED.format(base=base, nonce=uuid.uuid4().hex),
            "bake.toml": f'[target.a]\ntarget = "a"\ntags = ["{prefix}-a"]\n',
        },
    )


@pytest.mark.parametrize("builder", BUILDERS)
def test_a_base_only_in_a_registry_with_a_password_builds_base_once(
    client: docker.DockerClient,
    auth_registry: AuthRegistry,
    base_in_registry: str,
    prefix: str,
    tmp_path: Path,
    *,
    builder: str,
) -> None:
    nonce = uuid.uuid4().hex
    write_tree(
        tmp_path,
        {
            "Dockerfile": SHARED.format(base=base_in_registry, nonce=nonce),
            "bake.toml": (
                f'[target.a]\ntarget = "a"\ntags = ["{prefix}-a"]\n'
                f'[target.b]\ntarget = "b"\ntags = ["{prefix}-b"]\n'
            ),
        },
    )
    config = docker_config(tmp_path / "docker-config", auth_registry)
    run = bakery(
        tmp_path,
        "build",
        "--builder",
        builder,
        "--report",
        "json",
        "a",
        "b",
        env={"DOCKER_CONFIG": str(config)},
    )
    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(run.stdout)
    base = [n for n in report["nodes"] if n["stage"] == "base"]
    assert len(base) == 1
    assert base[0]["status"] == "built"
    assert read_file(client, f"{prefix}-a", "/base") == f"{nonce}\n".encode()
    assert read_file(client, f"{prefix}-b", "/b") == b"b\n"


@pytest.mark.parametrize("builder", BUILDERS)
def test_a_wrong_password_names_the_registry(
    client: docker.DockerClient,
    auth_registry: AuthRegistry,
    base_in_registry: str,
    prefix: str,
    tmp_path: Path,
    *,
    builder: str,
) -> None:
    one_target(tmp_path, prefix, base_in_registry)
    config = docker_config(tmp_path / "docker-config", auth_registry, password="wrong")
    run = bakery(tmp_path, "build", "--builder", builder, env={"DOCKER_CONFIG": str(config)})
    text = run.stdout + run.stderr
    assert run.returncode == 1, text
    assert "Traceback" not in text
    assert f"cannot pull {base_in_registry}: the registry {auth_registry.address}" in text
    assert "refused access" in text
    assert f"docker login {auth_registry.address}" in text
    assert "Dockerfile:1" in text
    assert auth_registry.password not in text
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(f"{prefix}-a")


def test_a_session_over_tcp(
    client: docker.DockerClient,
    auth_registry: AuthRegistry,
    base_in_registry: str,
    prefix: str,
    tmp_path: Path,
) -> None:
    """DOCKER_HOST=tcp://: the session goes over TCP as the build does."""
    one_target(tmp_path, prefix, base_in_registry)
    config = docker_config(tmp_path / "docker-config", auth_registry)
    with SocketMeter(tmp_path, tcp=True) as relay:
        run = bakery(
            tmp_path,
            "build",
            "--builder",
            "buildkit",
            env={"DOCKER_CONFIG": str(config), "DOCKER_HOST": relay.url},
        )
    assert run.returncode == 0, run.stdout + run.stderr
    assert read_file(client, f"{prefix}-a", "/a") == b"a\n"


@pytest.mark.parametrize("builder", BUILDERS)
@pytest.mark.parametrize("pull", [False, True], ids=["build", "--pull"])
@pytest.mark.parametrize("fault", ["no such image", "registry down"])
def test_other_registry_errors_name_the_image_and_the_registry(
    client: docker.DockerClient,
    auth_registry: AuthRegistry,
    prefix: str,
    tmp_path: Path,
    *,
    builder: str,
    pull: bool,
    fault: str,
) -> None:
    if fault == "no such image":
        registry, says = auth_registry.address, "has no such image"
    else:
        with socket.socket() as probe:  # a port nothing listens on
            probe.bind(("127.0.0.1", 0))
            registry = f"127.0.0.1:{probe.getsockname()[1]}"
        says = "does not answer"
    image = f"{registry}/{prefix}-nope:1"
    one_target(tmp_path, prefix, image)
    config = docker_config(tmp_path / "docker-config", auth_registry)
    args = ["--pull"] if pull else []
    run = bakery(tmp_path, "build", "--builder", builder, *args, env={"DOCKER_CONFIG": str(config)})
    text = run.stdout + run.stderr
    assert run.returncode == 1, text
    assert "Traceback" not in text
    assert f"cannot pull {image}: the registry {registry} {says}" in text
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(f"{prefix}-a")


@pytest.mark.parametrize("builder", BUILDERS)
def test_a_credential_helper_that_is_not_installed_is_named(
    client: docker.DockerClient,
    auth_registry: AuthRegistry,
    base_in_registry: str,
    prefix: str,
    tmp_path: Path,
    *,
    builder: str,
) -> None:
    one_target(tmp_path, prefix, base_in_registry)
    write_tree(tmp_path, {"docker-config/config.json": '{"credsStore": "bakery-test-absent"}'})
    run = bakery(
        tmp_path,
        "build",
        "--builder",
        builder,
        env={"DOCKER_CONFIG": str(tmp_path / "docker-config")},
    )
    text = run.stdout + run.stderr
    assert run.returncode == 1, text
    assert "Traceback" not in text
    assert "UserWarning" not in text
    assert "docker-credential-bakery-test-absent" in text
    assert "remove credsStore" in text


SECRETS = """\
FROM bakery-busybox:latest AS base
RUN echo {nonce} > /nonce

FROM base AS fromfile
RUN --mount=type=secret,id=f,required=true sha256sum < /run/secrets/f > /digest

FROM base AS fromenv
RUN --mount=type=secret,id=e,required=true sha256sum < /run/secrets/e > /digest && \
    echo "printed: $(cat /run/secrets/e)"
"""


def test_secrets_are_read_and_reach_no_image_output_or_report(
    client: docker.DockerClient, prefix: str, tmp_path: Path
) -> None:
    from_file = f"file-secret-{uuid.uuid4().hex}"
    from_env = f"env-secret-{uuid.uuid4().hex}"
    write_tree(
        tmp_path,
        {
            "Dockerfile": SECRETS.format(nonce=uuid.uuid4().hex),
            "token.txt": from_file,
            ".dockerignore": "token.txt\n",
            "bake.toml": (
                f'[target.a]\ntarget = "fromfile"\ntags = ["{prefix}-a"]\n'
                'secret = ["id=f,src=token.txt"]\n'
                f'[target.b]\ntarget = "fromenv"\ntags = ["{prefix}-b"]\n'
                'secret = ["id=e,env=BAKERY_TEST_TOKEN"]\n'
            ),
        },
    )
    env = {"BAKERY_TEST_TOKEN": from_env}
    report_file = tmp_path / "report.json"
    run = bakery(
        tmp_path,
        "build",
        "--progress",
        "plain",
        "--report-file",
        str(report_file),
        env=env,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    # Read: the image holds the digest of each value, which only the value gives.
    for tag, value in ((f"{prefix}-a", from_file), (f"{prefix}-b", from_env)):
        digest = hashlib.sha256(value.encode()).hexdigest()
        assert read_file(client, tag, "/digest").split()[0].decode() == digest
    printed = bakery(tmp_path, "print", env=env)
    assert printed.returncode == 0
    assert "id=e,env=BAKERY_TEST_TOKEN" in printed.stdout
    outputs = run.stdout + run.stderr + report_file.read_text() + printed.stdout
    saved = b""
    made = [
        tag
        for image in client.api.images()
        for tag in image.get("RepoTags") or []
        if tag.startswith(prefix)
    ]
    assert len(made) >= 3, made  # the targets, and the stage images
    for tag in made:
        saved += b"".join(client.images.get(tag).save(named=True))
    for value in (from_file, from_env):
        assert value not in outputs
        assert value.encode() not in saved
    # A step that prints a secret shows it masked.
    assert "printed: ****" in run.stderr


def test_the_classic_builder_refuses_a_secret_before_building(
    client: docker.DockerClient, prefix: str, tmp_path: Path
) -> None:
    write_tree(
        tmp_path,
        {
            "Dockerfile": SECRETS.format(nonce=(nonce := uuid.uuid4().hex)),
            "bake.toml": f'[target.b]\ntarget = "fromenv"\ntags = ["{prefix}-b"]\n'
            'secret = ["id=e,env=BAKERY_TEST_TOKEN"]\n',
        },
    )
    run = bakery(tmp_path, "build", "--builder", "classic", env={"BAKERY_TEST_TOKEN": "x"})
    assert run.returncode == 2
    assert "target.b: secret needs BuildKit" in run.stderr
    assert containers(client, nonce) == set()


@pytest.fixture
def ssh_tools(
    client: docker.DockerClient, prefix: str, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """An image with OpenSSH's ssh-add (and the libraries it links), on busybox."""
    if shutil.which("ssh-add") is None:
        message = "no ssh-add (openssh-client; scripts/test installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    root = tmp_path_factory.mktemp("ssh-tools")
    binary = shutil.which("ssh-add")
    assert binary is not None
    linked = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    files = [binary, *(w for w in linked.split() if w.startswith("/"))]
    for path in files:
        target = root / "files" / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(os.path.realpath(path), target)
    (root / "Dockerfile").write_text("FROM bakery-busybox:latest\nCOPY files/ /\n")
    tag = f"{prefix}-ssh-tools"
    client.images.build(path=str(root), tag=tag, rm=True)
    return tag


@pytest.fixture
def agent() -> Iterator[tuple[str, str, Path]]:
    """An ssh-agent holding a key made for the test: its socket, the key's
    fingerprint, and the key file (for the key-file form)."""
    folder = Path(tempfile.mkdtemp(prefix="bakery-ssh-test-"))
    key = folder / "id_test"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bakery-test", "-f", str(key)],
        check=True,
    )
    listed = subprocess.run(
        ["ssh-keygen", "-l", "-f", f"{key}.pub"], capture_output=True, text=True, check=True
    )
    fingerprint = listed.stdout.split()[1]  # SHA256:...
    sock = folder / "agent.sock"
    process = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL)
    try:
        for _ in range(200):
            if sock.exists():
                break
            time.sleep(0.01)
        subprocess.run(
            ["ssh-add", "-q", str(key)], env={**os.environ, "SSH_AUTH_SOCK": str(sock)}, check=True
        )
        yield str(sock), fingerprint, key
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


def test_ssh_agents_are_forwarded_to_run_mounts(
    client: docker.DockerClient,
    prefix: str,
    tmp_path: Path,
    ssh_tools: str,
    agent: tuple[str, str, Path],
) -> None:
    sock, fingerprint, key = agent
    nonce = uuid.uuid4().hex
    write_tree(
        tmp_path,
        {
            "Dockerfile": (
                f"FROM {ssh_tools} AS user\n"
                f"RUN --mount=type=ssh,required=true echo {nonce} && "
                'test -S "$SSH_AUTH_SOCK" && ssh-add -l\n'
                f"FROM {ssh_tools} AS keys\n"
                f"RUN --mount=type=ssh,id=deploy,required=true echo {nonce} keys && ssh-add -l\n"
            ),
            "bake.toml": (
                f'[target.user]\ntarget = "user"\ntags = ["{prefix}-user"]\nssh = ["default"]\n'
                f'[target.keys]\ntarget = "keys"\ntags = ["{prefix}-keys"]\n'
                f'ssh = ["deploy={key}"]\n'
            ),
        },
    )
    run = bakery(
        tmp_path, "build", "--progress", "plain", "--no-cache", env={"SSH_AUTH_SOCK": sock}
    )
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stderr.splitlines()
    assert any(line.startswith("[user/user]") and fingerprint in line for line in lines), run.stderr
    assert any(line.startswith("[keys/keys]") and fingerprint in line for line in lines), run.stderr
    assert not list(Path(tempfile.gettempdir()).glob("bakery-ssh-*/agent-*.sock"))


def session_ids_of(events_file: Path) -> list[str]:
    return [line.split()[-1] for line in events_file.read_text().splitlines()]


def test_ctrl_c_closes_the_session_and_leaves_no_container(
    client: docker.DockerClient, prefix: str, tmp_path: Path
) -> None:
    nonce = uuid.uuid4().hex
    write_tree(
        tmp_path,
        {
            "Dockerfile": "FROM bakery-busybox:latest\n"
            f"RUN --mount=type=secret,id=t,required=true echo {nonce} && echo sleeping "
            "&& sleep 120\n",
            "bake.toml": f'[target.slow]\ntags = ["{prefix}-slow"]\nsecret = ["id=t,env=TOK"]\n',
            "sessions.py": SESSION_SPY,
        },
    )
    ids_file = tmp_path / "sessions.txt"
    with subprocess.Popen(
        [sys.executable, str(tmp_path / "sessions.py"), "build", "--progress", "plain"],
        cwd=tmp_path,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "TOK": "x", "SESSIONS_FILE": str(ids_file)},
    ) as proc:
        assert proc.stderr is not None
        seen = []
        deadline = time.monotonic() + 60
        for line in proc.stderr:
            seen.append(line)
            if "sleeping" in line or time.monotonic() > deadline:
                break
        assert any("sleeping" in s for s in seen), "".join(seen)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        took = time.monotonic() - sent
    assert proc.returncode == 130, out + err
    assert took < 5, f"took {took:.1f}s to stop"
    assert "Traceback" not in err
    assert containers(client, nonce) == set()
    (session,) = session_ids_of(ids_file)
    # The daemon's word that the session is gone: a build that needs it waits for
    # it and fails. The daemon drops a closed session at its next health check,
    # which comes every second (BuildKit 0.8) or five (newer).
    deadline = time.monotonic() + 15
    while "no active session" not in (failed := _build_with_session(client, session)):
        assert time.monotonic() < deadline, failed
        time.sleep(0.5)


SESSION_SPY = """\
import os, sys
import bakery.engine.session.open as opened
from bakery.cli import main

real = opened.dial_session

async def spy(client, session_id, *args):
    with open(os.environ["SESSIONS_FILE"], "a") as f:
        f.write("session " + session_id + "\\n")
    return await real(client, session_id, *args)

opened.dial_session = spy
sys.exit(main(sys.argv[1:]))
"""


def _build_with_session(client: docker.DockerClient, session: str) -> str:
    """What the daemon answers a build that reads a secret of ``session``."""
    import io
    import tarfile

    text = b"FROM bakery-busybox:latest\nRUN --mount=type=secret,id=t,required=true true\n"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(text)
        tar.addfile(info, io.BytesIO(text))
    api: Any = client.api
    response = api._post(
        api._url("/build"),
        params={"version": "2", "session": session, "nocache": "1", "rm": "1"},
        data=buf.getvalue(),
        headers={"Content-Type": "application/x-tar"},
        stream=True,
        timeout=60,
    )
    lines = [json.loads(line) for line in response.iter_lines() if line.strip()]
    return json.dumps([line for line in lines if "error" in line or "errorDetail" in line])
