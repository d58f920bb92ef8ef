"""Allows ``python -m bakery``."""

from bakery.cli import main

raise SystemExit(main())
