"""`bakery build` against the real daemon, on both builders.

The oracle is plain Docker on the same daemon: where bakery claims to build
the same image as ``docker build --target X``, the files and the config of the
two images are compared.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import docker
import pytest

from tests.engine.dockerutil import (
    SocketMeter,
    bakery,
    containers,
    image_config,
    image_files,
    inspect,
    oracle_build,
    write_tree,
)

pytestmark = pytest.mark.docker
BUILDERS = ["classic", "buildkit"]


SHARED = """\
FROM bakery-busybox:latest AS base
RUN echo {nonce} > /nonce && head -c 16 /dev/urandom | od -An -tx1 > /random

FROM bakery-busybox:latest AS broken
RUN exit 3

FROM base AS build-client
RUN cp /random /client-random

FROM base AS build-server
RUN cp /random /server-random

FROM bakery-busybox:latest AS client
COPY --from=build-client /client-random /random

FROM bakery-busybox:latest AS server
COPY --from=build-server /server-random /random
"""

SHARED_TOML = """\
[target.client]
target = "client"
tags = ["{prefix}-client:latest"]

[target.server]
target = "server"
tags = ["{prefix}-server:latest"]
"""


def read_file(client: docker.DockerClient, image: str, path: str) -> bytes:
    return bytes(client.containers.run(image, ["cat", path], remove=True))


@pytest.mark.parametrize("builder", BUILDERS)
def test_shared_stage_runs_once_and_unused_stages_never(
    client: docker.DockerClient,
    prefix: str,
    tmp_path: Path,
    builder: str,
) -> None:
    write_tree(
        tmp_path,
        {
            "Dockerfile": SHARED.format(nonce=uuid.uuid4().hex),
            "bake.toml": SHARED_TOML.format(prefix=prefix),
        },
    )
    run = bakery(tmp_path, "build", "--builder", builder, "--progress", "plain", "client", "server")
    assert run.returncode == 0, run.stdout + run.stderr
    a = read_file(client, f"{prefix}-client:latest", "/random")
    b = read_file(client, f"{prefix}-server:latest", "/random")
    assert len(a.split()) == 16
    assert a == b, "client and server must start from the same base"
    # The failing stage no target needs was never run.
    assert "exit 3" not in run.stderr


BIG_SHARED = """\
FROM bakery-busybox:latest AS base
COPY deps/ /deps/
RUN echo {nonce} > /nonce && head -c 16 /dev/urandom | od -An -tx1 > /random

FROM base AS client
RUN cp /random /client-random

FROM base AS server
COPY . /ctx
RUN cp /random /server-random
"""


@pytest.mark.parametrize("builder", BUILDERS)
@pytest.mark.parametrize("no_cache", [False, True], ids=["cache", "no-cache"])
def test_shared_stage_reading_much_of_the_context_runs_once(
    client: docker.DockerClient,
    prefix: str,
    tmp_path: Path,
    builder: str,
    no_cache: bool,
) -> None:
    # server copies the whole context: on BuildKit its build must go as written,
    # so the shared stage (1 MiB) is not built on its own, and both targets'
    # builds share it.
    (tmp_path / "deps").mkdir()
    (tmp_path / "deps" / "blob.bin").write_bytes(os.urandom(1 << 20))
    write_tree(
        tmp_path,
        {
            "Dockerfile": BIG_SHARED.format(nonce=uuid.uuid4().hex),
            "bake.toml": SHARED_TOML.format(prefix=prefix),
        },
    )
    run = bakery(
        tmp_path,
        "build",
        "--builder",
        builder,
        "--progress",
        "plain",
        *(["--no-cache"] if no_cache else []),
    )
    assert run.returncode == 0, run.stdout + run.stderr
    a = read_file(client, f"{prefix}-client:latest", "/client-random")
    b = read_file(client, f"{prefix}-server:latest", "/server-random")
    assert len(a.split()) == 16
    assert a == b, "client and server must start from the same base"


def test_plain_classic_builds_side_by_side_ship_different_bases(
    client: docker.DockerClient,
    prefix: str,
    tmp_path: Path,
) -> None:
    """The bug bakery removes, shown on the same daemon with the same Dockerfile."""
    write_tree(
        tmp_path,
        {
            "Dockerfile": SHARED.format(nonce=uuid.uuid4().hex).replace(
                "FROM bakery-busybox:latest AS broken\nRUN exit 3\n", ""
            )
        },
    )
    procs = [
        subprocess.Popen(
            ["docker", "build", "-q", "--target", t, "-t", f"{prefix}-{t}", "."],
            cwd=tmp_path,
            env={**os.environ, "DOCKER_BUILDKIT": "0"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for t in ("client", "server")
    ]
    for p in procs:
        assert p.wait(timeout=300) == 0
    assert read_file(client, f"{prefix}-client", "/random") != read_file(
        client, f"{prefix}-server", "/random"
    )


# case -> (files, the stage of each target: a name, an index, or None for the last)
SAME_AS_DOCKER: dict[str, tuple[dict[str, str], list[str | None]]] = {
    "args-index-case-config": (
        {
            "Dockerfile": """\
ARG BASE=bakery-busybox:latest
FROM ${BASE} AS Builder
ARG GREETING=hello
WORKDIR /work
ENV APP_ENV=prod PATH=/work/bin:/usr/bin:/bin
COPY app.txt .
RUN echo "$GREETING" > out.txt && chmod 640 out.txt && chown 1:2 out.txt && mkdir bin
USER 1000
LABEL org.example.name=app org.example.tier=web
STOPSIGNAL SIGTERM

FROM builder AS Final
EXPOSE 8080/tcp
VOLUME /data
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /work/out.txt"]

FROM bakery-busybox:latest AS copier
COPY --from=0 /work/out.txt /out.txt
COPY --from=final --chown=5:6 /work/app.txt /app.txt
""",
            "app.txt": "app\n",
        },
        ["final", "copier"],
    ),
    "onbuild": (
        {
            "Dockerfile": """\
FROM bakery-busybox:latest AS trigger
ONBUILD COPY app.txt /onbuild.txt
ONBUILD RUN echo triggered > /triggered
WORKDIR /srv

FROM trigger AS child
RUN ls / > /listing
""",
            "app.txt": "from the context\n",
        },
        ["child"],
    ),
    # A shared stage that reads the context: on BuildKit it is built once as an
    # image of its own; "whole" copies the whole context, so its build goes as
    # written; "copier" reads the shared stage with COPY --from.
    "shared-context": (
        {
            "Dockerfile": """\
FROM bakery-busybox:latest AS base
WORKDIR /app
COPY deps/ /deps/
ENV MODE=shared
USER 7

FROM base AS client
COPY client.txt .

FROM base AS server
COPY --chown=3 server.txt .
CMD ["server"]

FROM base AS whole
COPY . /ctx

FROM bakery-busybox:latest AS copier
COPY --from=base /deps /copied
""",
            "deps/lib.txt": "shared library\n",
            # Big enough for BuildKit to build the shared stage on its own.
            "deps/big.txt": "0123456789abcdef\n" * 65536,
            "deps/sub/more.txt": "more\n",
            "client.txt": "client\n",
            "server.txt": "server\n",
            "unread.txt": "nobody copies this\n",
            ".dockerignore": ".bakery/\n",
        },
        ["client", "server", "whole", "copier"],
    ),
    "dockerignore": (
        {
            "Dockerfile": "FROM bakery-busybox:latest\nCOPY . /ctx\nRUN find /ctx | sort\n",
            # .bakery/ holds bakery's state (docs/building.md, "Reuse"): docker build
            # would send it, bakery leaves its digest file out.
            ".dockerignore": "secret.txt\n*.log\n!keep.log\nbuild/\n.bakery/\n",
            "secret.txt": "no\n",
            "a.log": "no\n",
            "keep.log": "yes\n",
            "build/out": "no\n",
            "src/main.txt": "yes\n",
        },
        [None],
    ),
}


@pytest.mark.parametrize("builder", BUILDERS)
@pytest.mark.parametrize("case", list(SAME_AS_DOCKER))
def test_same_image_as_docker_build_target(
    client: docker.DockerClient,
    prefix: str,
    tmp_path: Path,
    builder: str,
    case: str,
) -> None:
    files, stages = SAME_AS_DOCKER[case]
    write_tree(tmp_path, files)
    toml = "".join(
        f'[target.t{i}]\n{"" if s is None else f"target = {s!r}"}\ntags = ["{prefix}-t{i}"]\n'
        for i, s in enumerate(stages)
    ).replace("'", '"')
    (tmp_path / "bake.toml").write_text(toml)
    run = bakery(tmp_path, "build", "--builder", builder, "--progress", "plain")
    assert run.returncode == 0, run.stdout + run.stderr
    for i, stage in enumerate(stages):
        ours = f"{prefix}-t{i}"
        theirs = oracle_build(
            client, tmp_path, stage, f"{prefix}-oracle{i}", buildkit=builder == "buildkit"
        )
        assert image_files(client, ours) == image_files(client, theirs)
        assert image_config(client, ours) == image_config(client, theirs)
        labels = inspect(client, ours)["Config"]["Labels"] or {}
        assert set(labels) - set(image_config(client, theirs)["Labels"] or {}) <= {
            "dev.bakery.node",
            "dev.bakery.role",
            "dev.bakery.repo",
            "dev.bakery.key",
        }


FAILING = """\
FROM bakery-busybox:latest AS ok
RUN echo fine > /ok

FROM bakery-busybox:latest AS bad
RUN echo first step
RUN echo {nonce} && echo line-one && \
    echo line-two && exit 3
"""


@pytest.mark.parametrize("builder", BUILDERS)
def test_failure_keeps_old_tag_and_leaves_no_container(
    client: docker.DockerClient,
    prefix: str,
    tmp_path: Path,
    builder: str,
) -> None:
    write_tree(
        tmp_path,
        {
            "Dockerfile": FAILING.format(nonce=(nonce := uuid.uuid4().hex)),
            "bake.toml": (
                f'[target.ok]\ntarget = "ok"\ntags = ["{prefix}-ok"]\n'
                f'[target.bad]\ntarget = "bad"\ntags = ["{prefix}-bad"]\n'
            ),
        },
    )
    old = client.images.get("bakery-busybox:latest")
    old.tag(f"{prefix}-bad", "latest")

    run = bakery(tmp_path, "build", "--builder", builder, "--progress", "plain", "bad")
    assert run.returncode == 1, run.stdout + run.stderr
    text = run.stdout + run.stderr
    assert "bad" in text
    assert "Dockerfile:6" in text
    assert "exit code 3" in text
    assert "line-two" in text
    assert "Traceback" not in text
    # The message comes again at the very end, after the report.
    assert "exit code 3" in run.stdout.strip().splitlines()[-1] or "line-two" in "\n".join(
        run.stdout.strip().splitlines()[-6:]
    )
    assert client.images.get(f"{prefix}-bad").id == old.id
    assert containers(client, nonce) == set()

    run = bakery(
        tmp_path, "build", "--builder", builder, "--progress", "plain", "--keep-going", "bad", "ok"
    )
    assert run.returncode == 1
    assert read_file(client, f"{prefix}-ok", "/ok") == b"fine\n"
    assert client.images.get(f"{prefix}-bad").id == old.id
    assert containers(client, nonce) == set()


@pytest.mark.parametrize(
    ("number", "expected"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["INT", "TERM"]
)
@pytest.mark.parametrize("builder", BUILDERS)
def test_a_stop_signal_stops_the_daemon_build(
    client: docker.DockerClient,
    prefix: str,
    tmp_path: Path,
    *,
    builder: str,
    number: signal.Signals,
    expected: int,
) -> None:
    write_tree(
        tmp_path,
        {
            "Dockerfile": f"FROM bakery-busybox:latest\nRUN echo {(nonce := uuid.uuid4().hex)} && "
            "echo sleeping && sleep 120\n",
            "bake.toml": f'[target.slow]\ntags = ["{prefix}-slow"]\n',
        },
    )
    with subprocess.Popen(
        [sys.executable, "-m", "bakery", "build", "--builder", builder, "--progress", "plain"],
        cwd=tmp_path,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        assert proc.stderr is not None
        deadline = time.monotonic() + 60
        seen = []
        for line in proc.stderr:
            seen.append(line)
            if "sleeping" in line or time.monotonic() > deadline:
                break
        assert any("sleeping" in s for s in seen), "".join(seen)
        time.sleep(0.5)
        sent = time.monotonic()
        proc.send_signal(number)
        out, err = proc.communicate(timeout=30)
        code = proc.returncode
        took = time.monotonic() - sent
    assert "Traceback" not in err, err
    assert "interrupted" in out + err
    assert code == expected
    assert took < 5, f"took {took:.1f}s to stop"
    assert containers(client, nonce) == set()
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(f"{prefix}-slow")


CUT = """\
FROM bakery-busybox:latest AS base
COPY deps/ /deps/
RUN echo {nonce} > /nonce

FROM base AS client
COPY client.txt /

FROM base AS server
COPY server.txt /

FROM bakery-busybox:latest AS copier
COPY --from=base /deps /copied
"""


@pytest.mark.parametrize("builder", BUILDERS)
@pytest.mark.parametrize("size", [1 << 20, 1 << 10], ids=["1MiB", "1KiB"])
def test_context_files_travel_once_per_node_that_reads_them(
    client: docker.DockerClient,
    prefix: str,
    tmp_path: Path,
    builder: str,
    size: int,
) -> None:
    # Three targets share a stage that copies a file from the context; none of
    # them reads it. Sending it with every target's build would be 3 times its size.
    # With 1 MiB the stage is a target too: its own build makes that image.
    (tmp_path / "deps").mkdir()
    (tmp_path / "deps" / "blob.bin").write_bytes(os.urandom(size))
    (tmp_path / "client.txt").write_text("client\n")
    (tmp_path / "server.txt").write_text("server\n")
    (tmp_path / "Dockerfile").write_text(CUT.format(nonce=uuid.uuid4().hex))
    (tmp_path / "bake.toml").write_text(
        "".join(
            f'[target.{t}]\ntarget = "{t}"\ntags = ["{prefix}-{t}"]\n'
            for t in ("client", "server", "copier", *(["base"] if size >= 1 << 20 else []))
        )
    )
    with SocketMeter(tmp_path) as meter:
        run = bakery(
            tmp_path,
            "build",
            "--builder",
            builder,
            "--progress",
            "plain",
            env={"DOCKER_HOST": meter.url},
        )
    assert run.returncode == 0, run.stdout + run.stderr
    if builder == "classic":
        assert meter.builds == 4  # one per stage
        assert size <= meter.sent < size * 1.5 + 100_000, meter.sent
    elif size >= 1 << 20:
        assert meter.builds == 4  # the shared stage (target base), then one per target
        assert size <= meter.sent < size * 1.5, meter.sent
    else:
        # A small file goes with each target's build: no build waits for the stage.
        assert meter.builds == 3
    ours = client.containers.run(f"{prefix}-copier", ["md5sum", "/copied/blob.bin"], remove=True)
    theirs = client.containers.run(f"{prefix}-client", ["md5sum", "/deps/blob.bin"], remove=True)
    assert ours.split()[0] == theirs.split()[0]
    if size >= 1 << 20:
        base = inspect(client, f"{prefix}-base")["Config"]["Labels"]
        assert base["dev.bakery.role"] == "image"


CUT_FAILING = """\
FROM bakery-busybox:latest AS base
COPY deps/ /deps/
RUN echo {nonce} && exit 4

FROM base AS one
RUN echo one

FROM base AS two
RUN echo two

FROM bakery-busybox:latest AS free
RUN echo {nonce} free > /free
"""


@pytest.mark.parametrize("builder", BUILDERS)
def test_failing_shared_stage_built_on_its_own(
    client: docker.DockerClient,
    prefix: str,
    tmp_path: Path,
    builder: str,
) -> None:
    # 1 MiB: on BuildKit the shared stage is a build of its own (see above).
    (tmp_path / "deps").mkdir()
    (tmp_path / "deps" / "blob.bin").write_bytes(os.urandom(1 << 20))
    (tmp_path / "Dockerfile").write_text(CUT_FAILING.format(nonce=(nonce := uuid.uuid4().hex)))
    (tmp_path / "bake.toml").write_text(
        "".join(
            f'[target.{t}]\ntarget = "{t}"\ntags = ["{prefix}-{t}"]\n'
            for t in ("one", "two", "free")
        )
    )
    run = bakery(
        tmp_path,
        "build",
        "--builder",
        builder,
        "--progress",
        "plain",
        "--keep-going",
        "--report",
        "json",
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Dockerfile:3" in run.stderr, run.stderr
    assert "exit code 4" in run.stderr
    assert "Traceback" not in run.stderr
    report = json.loads(run.stdout)
    status = {n["stage"]: n["status"] for n in report["nodes"]}
    assert status == {
        "base": "failed",
        "one": "not_started",
        "two": "not_started",
        "free": "built",
    }, status
    assert read_file(client, f"{prefix}-free", "/free") == f"{nonce} free\n".encode()
    for name in ("one", "two"):
        with pytest.raises(docker.errors.ImageNotFound):
            client.images.get(f"{prefix}-{name}")
    assert containers(client, nonce) == set()


@pytest.mark.parametrize("builder", BUILDERS)
def test_target_context_and_depends_on(
    client: docker.DockerClient,
    prefix: str,
    tmp_path: Path,
    builder: str,
) -> None:
    nonce = uuid.uuid4().hex
    write_tree(
        tmp_path,
        {
            "base.Dockerfile": f"FROM bakery-busybox:latest\nRUN echo {nonce} > /base-marker\n",
            "Dockerfile": (
                "FROM baseapp\nRUN cp /base-marker /app-marker\n"
                "FROM bakery-busybox:latest AS copy\nCOPY --from=baseapp /base-marker /m\n"
            ),
            "tool.Dockerfile": f"FROM bakery-busybox:latest\nRUN echo {nonce}-tool > /tool\n",
            "bake.toml": f"""\
[target.base]
dockerfile = "base.Dockerfile"
tags = ["{prefix}-base"]
[target.tool]
dockerfile = "tool.Dockerfile"
tags = ["{prefix}-tool"]
[target.app]
target = "0"
contexts = {{ baseapp = "target:base" }}
depends-on = ["tool"]
tags = ["{prefix}-app"]
[target.copy]
target = "copy"
contexts = {{ baseapp = "target:base" }}
tags = ["{prefix}-copy"]
""",
        },
    )
    if builder == "buildkit":
        # BuildKit builds a target by stage name; the app stage has none.
        text = (tmp_path / "bake.toml").read_text().replace('target = "0"\n', "")
        (tmp_path / "Dockerfile").write_text(
            "FROM bakery-busybox:latest AS copy\nCOPY --from=baseapp /base-marker /m\n"
            "FROM baseapp\nRUN cp /base-marker /app-marker\n"
        )
        (tmp_path / "bake.toml").write_text(text)
    run = bakery(tmp_path, "build", "--builder", builder, "--progress", "plain", "app", "copy")
    assert run.returncode == 0, run.stdout + run.stderr
    assert read_file(client, f"{prefix}-app", "/app-marker") == f"{nonce}\n".encode()
    assert read_file(client, f"{prefix}-copy", "/m") == f"{nonce}\n".encode()
    # depends-on: tool was built (though not named) and finished before app started.
    lines = run.stderr.splitlines()
    tagged = next(i for i, li in enumerate(lines) if li.startswith("[tool] tagged"))
    app_started = [i for i, li in enumerate(lines) if li.startswith("[app/")]
    assert app_started
    assert min(app_started) > tagged


def test_prune_removes_stage_images_and_nothing_else(
    client: docker.DockerClient,
    prefix: str,
    tmp_path: Path,
) -> None:
    repo = f"{prefix}-stages"
    env = {"BAKERY_STAGE_REPO": repo}
    write_tree(
        tmp_path,
        {
            "Dockerfile": SHARED.format(nonce=uuid.uuid4().hex),
            "bake.toml": SHARED_TOML.format(prefix=prefix),
        },
    )
    run = bakery(tmp_path, "build", "--builder", "classic", "client", "server", env=env)
    assert run.returncode == 0, run.stderr
    assert len(client.images.list(name=repo)) == 5
    run = bakery(tmp_path, "prune", env=env)
    assert run.returncode == 0, run.stderr
    # base and the two build stages go; client's and server's images only lose a tag.
    assert "removed 3 stage images" in run.stdout
    assert "untagged 2" in run.stdout
    assert client.images.list(name=repo) == []
    # The targets' images and their tags are still there.
    assert read_file(client, f"{prefix}-client:latest", "/random")
    assert client.images.get("bakery-busybox:latest")


def test_unreachable_daemon_is_one_clear_error(tmp_path: Path) -> None:
    write_tree(tmp_path, {"Dockerfile": "FROM scratch\n", "bake.toml": "[target.a]\n"})
    run = bakery(tmp_path, "build", env={"DOCKER_HOST": "unix:///nonexistent/docker.sock"})
    assert run.returncode == 1
    assert run.stderr.startswith(
        "error: cannot reach the Docker daemon at unix:///nonexistent/docker.sock"
    )
    assert "hint: " in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("builder", BUILDERS)
def test_output_local_exports_the_image_files(
    client: docker.DockerClient,
    prefix: str,
    tmp_path: Path,
    builder: str,
) -> None:
    write_tree(
        tmp_path,
        {
            "Dockerfile": (
                f"FROM bakery-busybox:latest AS build\nRUN echo {uuid.uuid4().hex} "
                "> /made && mkdir -p /out && echo artefact > /out/app\n"
                "FROM scratch\nCOPY --from=build /out/ /\n"
            ),
            "bake.toml": (
                f'[target.bin]\ntags = ["{prefix}-bin"]\noutput = "type=local,dest=dist"\n'
            ),
        },
    )
    run = bakery(tmp_path, "build", "--builder", builder)
    assert run.returncode == 0, run.stdout + run.stderr
    assert sorted(p.name for p in (tmp_path / "dist").iterdir()) == ["app"]
    assert (tmp_path / "dist" / "app").read_text() == "artefact\n"


def test_pull_of_an_unreachable_image_fails_before_building(
    client: docker.DockerClient,
    prefix: str,
    tmp_path: Path,
) -> None:
    write_tree(
        tmp_path,
        {
            "Dockerfile": "FROM bakery-busybox:latest\nRUN true\n",
            "bake.toml": f'[target.a]\ntags = ["{prefix}-a"]\n',
        },
    )
    run = bakery(tmp_path, "build", "--pull")
    assert run.returncode == 1
    assert run.stderr.startswith("error: target.a: cannot pull bakery-busybox:latest")
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("builder", BUILDERS)
def test_missing_context_folder_is_one_error(
    tmp_path: Path, builder: str, client: docker.DockerClient
) -> None:
    write_tree(
        tmp_path,
        {
            "Dockerfile": "FROM bakery-busybox:latest\nCOPY . /x\n",
            "bake.toml": '[target.a]\ncontext = "nowhere"\ndockerfile = "../Dockerfile"\n',
        },
    )
    run = bakery(tmp_path, "build", "--builder", builder)
    assert run.returncode == 2, run.stderr
    assert "does not exist" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("builder", BUILDERS)
def test_shm_size_on_buildkit_is_a_warning(
    client: docker.DockerClient,
    prefix: str,
    tmp_path: Path,
    builder: str,
) -> None:
    write_tree(
        tmp_path,
        {
            "Dockerfile": "FROM bakery-busybox:latest\nRUN df -k /dev/shm > /shm\n",
            "bake.toml": f'[target.t]\ntags = ["{prefix}-t"]\nshm-size = "96m"\n',
        },
    )
    run = bakery(tmp_path, "build", "--builder", builder, "--progress", "plain")
    assert run.returncode == 0, run.stdout + run.stderr
    warned = "warning: target.t: shm-size has no effect on BuildKit" in run.stderr
    assert warned is (builder == "buildkit")
    if builder == "classic":
        assert b"98304" in read_file(client, f"{prefix}-t", "/shm")


@pytest.mark.parametrize("builder", BUILDERS)
def test_labels_with_line_breaks_and_quotes(
    client: docker.DockerClient,
    prefix: str,
    tmp_path: Path,
    builder: str,
) -> None:
    labels = {"notes": "first line\nsecond line", "quoted": 'say "hi" $HOME \\ end', "plain": "v"}
    write_tree(
        tmp_path,
        {
            "Dockerfile": "FROM bakery-busybox:latest\nRUN true\n",
            "bake.toml": (
                f'[target.t]\ntags = ["{prefix}-t"]\nlabels = {json.dumps(labels)}\n'
            ).replace('": "', '" = "'),
        },
    )
    run = bakery(tmp_path, "build", "--builder", builder, "--progress", "plain")
    assert run.returncode == 0, run.stdout + run.stderr
    found = inspect(client, f"{prefix}-t")["Config"]["Labels"]
    assert {k: found.get(k) for k in labels} == labels


@pytest.mark.parametrize("builder", BUILDERS)
def test_copy_through_a_link_to_the_context_root(
    client: docker.DockerClient,
    prefix: str,
    tmp_path: Path,
    builder: str,
) -> None:
    # Each build gets only the files its stages read: a link to "." reads them all.
    write_tree(
        tmp_path,
        {
            "Dockerfile": "FROM bakery-busybox:latest\nCOPY all/ /ctx/\n",
            "a.txt": "a\n",
            "sub/b.txt": "b\n",
            ".dockerignore": ".bakery/\n",
        },
    )
    (tmp_path / "all").symlink_to(".")
    (tmp_path / "bake.toml").write_text(f'[target.t]\ntags = ["{prefix}-t"]\n')
    run = bakery(tmp_path, "build", "--builder", builder, "--progress", "plain")
    assert run.returncode == 0, run.stdout + run.stderr
    theirs = oracle_build(
        client, tmp_path, None, f"{prefix}-oracle", buildkit=builder == "buildkit"
    )
    assert image_files(client, f"{prefix}-t") == image_files(client, theirs)


@pytest.mark.parametrize("builder", BUILDERS)
def test_a_shared_stage_nothing_rebuilds_is_not_built(
    client: docker.DockerClient,
    prefix: str,
    tmp_path: Path,
    builder: str,
) -> None:
    (tmp_path / "deps").mkdir()
    (tmp_path / "deps" / "blob.bin").write_bytes(os.urandom(1 << 20))
    write_tree(
        tmp_path,
        {
            "Dockerfile": CUT.format(nonce=uuid.uuid4().hex),
            "client.txt": "client\n",
            "server.txt": "server\n",
        },
    )
    (tmp_path / "bake.toml").write_text(
        "".join(
            f'[target.{t}]\ntarget = "{t}"\ntags = ["{prefix}-{t}"]\n' for t in ("client", "server")
        )
    )
    for names in (["client"], ["server"]):
        run = bakery(tmp_path, "build", "--builder", builder, "--progress", "plain", *names)
        assert run.returncode == 0, run.stdout + run.stderr
    # Both targets' images exist: building them together makes no build call.
    with SocketMeter(tmp_path) as meter:
        run = bakery(
            tmp_path,
            "build",
            "--builder",
            builder,
            "--progress",
            "plain",
            "--report",
            "json",
            "client",
            "server",
            env={"DOCKER_HOST": meter.url},
        )
    assert run.returncode == 0, run.stdout + run.stderr
    assert meter.builds == 0
    assert {n["status"] for n in json.loads(run.stdout)["nodes"]} == {"cached"}


PLATFORMS = """\
FROM --platform=$BUILDPLATFORM bakery-busybox:latest AS build
COPY big.bin /big.bin
RUN echo {nonce} > /made

FROM scratch AS out
COPY --from=build /made /made
"""


@pytest.mark.parametrize("builder", BUILDERS)
def test_a_shared_stage_for_targets_of_two_platforms(
    client: docker.DockerClient,
    prefix: str,
    tmp_path: Path,
    builder: str,
) -> None:
    # The build stage runs on the build platform for both targets: one node,
    # whose image must serve an arm64 and an amd64 target.
    (tmp_path / "big.bin").write_bytes(os.urandom(1 << 20))
    (tmp_path / "Dockerfile").write_text(PLATFORMS.format(nonce=(nonce := uuid.uuid4().hex)))
    (tmp_path / "bake.toml").write_text(
        "".join(
            f'[target.{arch}]\ntarget = "out"\nplatform = "linux/{arch}"\n'
            f'tags = ["{prefix}-{arch}"]\n'
            for arch in ("arm64", "amd64")
        )
    )
    run = bakery(tmp_path, "build", "--builder", builder, "--progress", "plain")
    assert run.returncode == 0, run.stdout + run.stderr
    for arch in ("arm64", "amd64"):
        image = inspect(client, f"{prefix}-{arch}")
        assert image["Architecture"] == arch
        files = image_files(client, f"{prefix}-{arch}")
        assert files["made"][-1] == hashlib.sha256(f"{nonce}\n".encode()).hexdigest()


SKIPPED_SHARING = """\
FROM bakery-busybox:latest AS base
RUN echo {nonce} && sleep 3

FROM base AS ok
RUN echo ok > /ok

FROM base AS after
RUN echo after

FROM bakery-busybox:latest AS bad
RUN echo {nonce} && exit 5
"""


@pytest.mark.parametrize("builder", BUILDERS)
def test_a_skipped_target_does_not_skip_a_stage_another_builds(
    client: docker.DockerClient,
    prefix: str,
    tmp_path: Path,
    builder: str,
) -> None:
    # "after" waits for "bad", which fails at once, while "ok" builds the stage
    # "after" shares with it.
    write_tree(
        tmp_path,
        {
            "Dockerfile": SKIPPED_SHARING.format(nonce=(nonce := uuid.uuid4().hex)),
            "bake.toml": (
                f'[target.ok]\ntarget = "ok"\ntags = ["{prefix}-ok"]\n'
                f'[target.after]\ntarget = "after"\ndepends-on = ["bad"]\n'
                f'tags = ["{prefix}-after"]\n'
                f'[target.bad]\ntarget = "bad"\ntags = ["{prefix}-bad"]\n'
            ),
        },
    )
    run = bakery(
        tmp_path,
        "build",
        "--builder",
        builder,
        "--progress",
        "plain",
        "--keep-going",
        "--report",
        "json",
        "ok",
        "after",
    )
    assert run.returncode == 1, run.stdout + run.stderr
    report = json.loads(run.stdout)
    status = {n["stage"]: n["status"] for n in report["nodes"]}
    assert status == {"base": "built", "ok": "built", "after": "not_started", "bad": "failed"}, (
        status
    )
    assert read_file(client, f"{prefix}-ok", "/ok") == b"ok\n"
    assert containers(client, nonce) == set()


SKIPPED_CUT = """\
FROM bakery-busybox:latest AS base
RUN echo {nonce} && sleep 3

FROM base AS big
COPY deps/ /deps/

FROM big AS one
RUN echo one

FROM big AS two
RUN echo two

FROM base AS free
RUN echo free > /free

FROM bakery-busybox:latest AS bad
RUN echo {nonce} && exit 5
"""


@pytest.mark.parametrize("builder", BUILDERS)
def test_a_skipped_shared_stage_does_not_skip_a_stage_another_builds(
    client: docker.DockerClient,
    prefix: str,
    tmp_path: Path,
    builder: str,
) -> None:
    # "big" (1 MiB) is shared by one and two, which wait for "bad"; "free" builds
    # "base" meanwhile.
    (tmp_path / "deps").mkdir()
    (tmp_path / "deps" / "blob.bin").write_bytes(os.urandom(1 << 20))
    (tmp_path / "Dockerfile").write_text(SKIPPED_CUT.format(nonce=(nonce := uuid.uuid4().hex)))
    (tmp_path / "bake.toml").write_text(
        "".join(
            f'[target.{t}]\ntarget = "{t}"\ndepends-on = ["bad"]\ntags = ["{prefix}-{t}"]\n'
            for t in ("one", "two")
        )
        + f'[target.free]\ntarget = "free"\ntags = ["{prefix}-free"]\n'
        + f'[target.bad]\ntarget = "bad"\ntags = ["{prefix}-bad"]\n'
    )
    run = bakery(
        tmp_path,
        "build",
        "--builder",
        builder,
        "--progress",
        "plain",
        "--keep-going",
        "--report",
        "json",
        "one",
        "two",
        "free",
    )
    assert run.returncode == 1, run.stdout + run.stderr
    status = {n["stage"]: n["status"] for n in json.loads(run.stdout)["nodes"]}
    assert status == {
        "base": "built",
        "big": "not_started",
        "one": "not_started",
        "two": "not_started",
        "free": "built",
        "bad": "failed",
    }, status
    assert containers(client, nonce) == set()


@pytest.mark.parametrize("builder", BUILDERS)
def test_copy_from_an_unset_variable_is_the_daemons_error(
    client: docker.DockerClient, prefix: str, tmp_path: Path, builder: str
) -> None:
    write_tree(
        tmp_path,
        {
            "Dockerfile": "FROM bakery-busybox:latest AS a\nARG UNSET\nCOPY --from=$UNSET . .\n",
            "bake.toml": f'[target.a]\ntarget = "a"\ntags = ["{prefix}-a"]\n',
        },
    )
    run = bakery(tmp_path, "build", "--builder", builder, "--progress", "plain")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    # Both builders refuse the empty name; bakery passes their word on.
    assert "invalid reference format" in run.stdout + run.stderr
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(f"{prefix}-a")
