"""Writes one benchmark's section of docs/benchmarks.md, leaving the others."""

from __future__ import annotations

import os
import platform
import re
import time
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADER = """# Benchmarks

Each section is written by the script it names, which runs bakery and the plain
alternative in the same run on the same machine. Re-run a script to refresh
its section. Figures depend on the machine; each section says where it ran.
"""


def write_section(title: str, body: str) -> None:
    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {time.strftime('%Y-%m-%d', time.gmtime())}"
    )
    section = f"## {title}\n\n_Measured on {machine}._\n\n{body.strip()}\n"
    text = DOC.read_text() if DOC.exists() else HEADER
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(text.rstrip("\n") + "\n")
