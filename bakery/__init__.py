"""bakery: a declarative build orchestrator for multi-stage container images."""

__version__ = "0.1.0"
