"""The pure core of bakery.

Everything here is a function of its inputs: the Dockerfile reader, the
bake.toml model, the stage graph and the plan. Nothing in this package touches
the Docker daemon, trio, rich, the clock or the disk; callers read files and
pass their text in. A test keeps it so.
"""
