"""BuildKit sessions: the channel through which the daemon's BuildKit asks the
client for registry credentials, secrets and SSH agents during a build.

``open_session`` opens one (``POST /session``, upgraded to HTTP/2) and serves
it for as long as its block runs; ``SessionBuilder`` gives every BuildKit build
a session of its own, with exactly the secrets and agents of its targets.
"""

from bakery.engine.session.builder import SessionBuilder
from bakery.engine.session.open import open_session

__all__ = ["SessionBuilder", "open_session"]
