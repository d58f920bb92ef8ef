"""The engine: executes a plan on Docker daemons with trio.

It never prints; it emits events that ``bakery.report`` renders.
"""
