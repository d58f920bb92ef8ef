"""bakery.core.dockerfile.parse_mount: the values of RUN --mount, and the ones refused."""

import pytest

from bakery.core.dockerfile import Mount, parse_dockerfile, parse_mount
from bakery.core.errors import DockerfileError


@pytest.mark.parametrize(
    ("value", "mount"),
    [
        ("target=/x", Mount("bind", target="/x", options={"target": "/x"})),
        (
            "type=cache,target=/root/.cache,id=go,sharing=locked",
            Mount(
                "cache",
                target="/root/.cache",
                options={
                    "type": "cache",
                    "target": "/root/.cache",
                    "id": "go",
                    "sharing": "locked",
                },
            ),
        ),
        (
            "from=build,src=/out,dst=/in,ro",
            Mount(
                "bind",
                source="/out",
                target="/in",
                from_="build",
                options={"from": "build", "src": "/out", "dst": "/in", "ro": ""},
            ),
        ),
        (
            "Type=TMPFS,destination=/t,size=64m",
            Mount(
                "tmpfs", target="/t", options={"type": "TMPFS", "destination": "/t", "size": "64m"}
            ),
        ),
        (
            '"type=bind","source=a,b",target=/x',
            Mount(
                "bind",
                source="a,b",
                target="/x",
                options={"type": "bind", "source": "a,b", "target": "/x"},
            ),
        ),
        (
            'type=bind,"target=say ""hi""",rw=true',
            Mount(
                "bind",
                target='say "hi"',
                options={"type": "bind", "target": 'say "hi"', "rw": "true"},
            ),
        ),
        (
            "type=secret,id=npm,required",
            Mount("secret", options={"type": "secret", "id": "npm", "required": ""}),
        ),
        ("type=ssh", Mount("ssh", options={"type": "ssh"})),
        (
            "type=$KIND,target=$DIR",
            Mount("$KIND", target="$DIR", options={"type": "$KIND", "target": "$DIR"}),
        ),
        (
            "type=cache,target=/c,uid=$UID,mode=0755",
            Mount(
                "cache",
                target="/c",
                options={"type": "cache", "target": "/c", "uid": "$UID", "mode": "0755"},
            ),
        ),
        (
            "from=stage$,target=/x",
            Mount("bind", target="/x", from_="stage$", options={"from": "stage$", "target": "/x"}),
        ),
    ],
    ids=[
        "default-bind",
        "cache",
        "aliases-and-bare-ro",
        "keys-case-insensitive",
        "quoted-fields",
        "doubled-quotes",
        "secret-required",
        "ssh",
        "variables-kept",
        "variable-not-checked",
        "from-trailing-dollar",
    ],
)
def test_parse_mount(value: str, mount: Mount) -> None:
    assert parse_mount(value) == mount


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("type=cahce,target=/x", 'unsupported mount type "cahce"; did you mean "cache"?'),
        ("typo=bind", "unexpected key 'typo' in 'typo=bind'; did you mean \"type\"?"),
        ("type=bind,target", "invalid field 'target' must be a key=value pair"),
        ("type=bind,,target=/x", "invalid field '' must be a key=value pair"),
        (
            "type=bind,from=$STAGE",
            "'from' doesn't support variable expansion, define alias stage instead",
        ),
        ("type=bind,ro=maybe", "invalid value for ro: maybe"),
        ("type=bind,required", "unexpected key 'required' for mount type 'bind'"),
        ("type=cache,size=1g", "unexpected key 'size' for mount type 'cache'"),
        ("type=tmpfs,size=lots", "invalid value for size: lots"),
        ("type=cache,sharing=all", 'unsupported sharing value "all"'),
        ("type=cache,uid=-1", "invalid value -1 for uid"),
        ("type=cache,mode=0999", "invalid value 0999 for mode"),
        ("type=bind,uid=1", 'uid not allowed for "bind" type mounts'),
        ("type=bind,sharing=locked", "invalid cache sharing set for bind mount"),
        ("type=secret", "invalid secret mount. one of source, target required"),
        ("type=secret,id=a,from=b", "secret mount should not have a from"),
        ("type=secret,id=a,src=b", "both source and id can't be set"),
        ("", "empty value"),
        ('type=bind,a"b', 'bare " in field "a"b"'),
        ('"type=bind', "a quoted field is not closed"),
        ('"type=bind"x', 'extraneous or missing " in quoted field'),
    ],
    ids=[
        "unknown-type",
        "unknown-key",
        "bare-field",
        "empty-field",
        "from-variable",
        "bad-bool",
        "required-on-bind",
        "size-on-cache",
        "bad-size",
        "bad-sharing",
        "bad-uid",
        "bad-mode",
        "uid-on-bind",
        "sharing-on-bind",
        "secret-without-id",
        "secret-from",
        "secret-source-and-id",
        "empty",
        "bare-quote",
        "unclosed-quote",
        "text-after-quote",
    ],
)
def test_parse_mount_errors(value: str, message: str) -> None:
    with pytest.raises(DockerfileError) as caught:
        parse_mount(value, where="Dockerfile:7")
    assert caught.value.where == "Dockerfile:7"
    assert caught.value.message == f"--mount={value}: {message}"


def test_mount_flags_from_a_run() -> None:
    text = 'FROM a\nRUN --mount=type=cache,target=/go --mount="type=secret,id=tok" go build\n'
    ins = parse_dockerfile(text).instructions[-1]
    mounts = [parse_mount(raw) for raw in ins.flag_values("mount")]
    assert [(m.type, m.target, m.options.get("id")) for m in mounts] == [
        ("cache", "/go", None),
        ("secret", None, "tok"),
    ]
