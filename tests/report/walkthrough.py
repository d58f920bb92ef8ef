"""The walkthrough (a base shared by two targets) in miniature, on the busybox image: a shared
``base``, ``build-client`` and ``build-server`` side by side, and two small
final images. Its RUN steps sleep, so that a live view has something to show.
docs/report.md shows this project's live view and report."""

from __future__ import annotations

DOCKERFILE = """\
FROM bakery-busybox:latest AS base
WORKDIR /src
COPY go.mod go.sum ./
RUN echo "go: downloading modules"; sleep {sleep}; echo "go: modules ready" > /src/.mod
COPY . .

FROM base AS build-client
RUN mkdir /out && for p in api cli ui; do echo "compiling client/$p"; sleep {part}; done \\
    && head -c $((2200000 + $(wc -c < cmd/client/main.go))) /dev/urandom > /out/client

FROM base AS build-server
RUN mkdir /out && for p in api db http jobs; do echo "compiling server/$p"; sleep {part}; done \\
    && head -c $((3400000 + $(wc -c < cmd/server/main.go))) /dev/urandom > /out/server

FROM scratch AS client
COPY --from=build-client /out/client /bin/client
ENTRYPOINT [ "/bin/client" ]

FROM scratch AS server
COPY --from=build-server /out/server /bin/server
ENTRYPOINT [ "/bin/server" ]
"""

BAKE_TOML = """\
[variables]
VERSION = "dev"
REGISTRY = "localhost:5000"

[group.default]
targets = ["client", "server"]

[target.client]
target = "client"
tags = ["{prefix}-client:latest", "${{REGISTRY}}/{prefix}-client:${{VERSION}}"]

[target.server]
inherits = ["client"]
target = "server"
tags = ["{prefix}-server:latest", "${{REGISTRY}}/{prefix}-server:${{VERSION}}"]
"""


def files(prefix: str, *, sleep: float = 2, part: float = 0.7) -> dict[str, str]:
    """The project's files, its images tagged ``{prefix}-client`` and ``{prefix}-server``."""
    return {
        "Dockerfile": DOCKERFILE.format(sleep=sleep, part=part),
        "bake.toml": BAKE_TOML.format(prefix=prefix),
        "go.mod": "module example.com/buildme\n\ngo 1.21\n",
        "go.sum": "",
        "cmd/client/main.go": 'package main\n\nfunc main() { println("client") }\n',
        "cmd/server/main.go": 'package main\n\nfunc main() { println("server") }\n',
    }
