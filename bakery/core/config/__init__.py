"""The bake.toml model: files in, resolved targets and groups out.

``load_project`` reads the text of one or more bake files (later files override
earlier ones attribute by attribute), checks every table, key and type,
resolves ``[variables]`` (``--var`` > environment > built-ins > file), expands
``${NAME}`` in every string value, applies ``inherits`` and then ``--set``, and
returns frozen ``Target`` and ``Group`` values with absolute paths. Every
problem is a ``ConfigError`` naming the file and line (or the ``--set`` /
``--var`` argument) and the nearest valid name.

Pure: the caller passes the files' text, the environment, the built-in values
(git, clock) and the command line. Nothing here touches the disk, the clock,
``os.environ`` or a subprocess; paths are joined as strings, never checked.

The modules, in the order ``load_project`` uses them: ``reader`` turns each
file into tables of typed values (``schema`` says what may be written,
``positions`` finds the line of each key, ``tables`` holds the values with
their origins); ``variables`` resolves and expands ``${NAME}``; ``overrides``
applies ``inherits`` and ``--set``; ``resolve`` runs the steps and builds the
frozen values of ``model``, checking what needs them all. Other code imports
from this package only.
"""

from bakery.core.config.model import BuildHost, FrozenMap, Group, Project, SourceFile, Target
from bakery.core.config.resolve import load_project
from bakery.core.config.variables import parse_assignment

__all__ = [
    "BuildHost",
    "FrozenMap",
    "Group",
    "Project",
    "SourceFile",
    "Target",
    "load_project",
    "parse_assignment",
]
