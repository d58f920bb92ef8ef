"""The report layer: live progress and the final report, rendered with rich."""
