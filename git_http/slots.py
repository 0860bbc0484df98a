"""How many git requests each principal has running over HTTP.

All git requests share a pool of worker threads; without a share per principal, one user (a
runaway script, or someone stalling request bodies on purpose) could hold every worker and
everybody else would wait. Past its share a principal is answered 429 and git says so; the
others are still served.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class PrincipalSlots:
    def __init__(self, per_principal: int) -> None:
        self.per_principal = per_principal
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str) -> Callable[[], None] | None:
        """A slot for `key`, as the function that gives it back (call it once), or None if
        `key` already holds its share."""
        with self._lock:
            held = self._held.get(key, 0)
            if held >= self.per_principal:
                return None
            self._held[key] = held + 1
        released = False

        def release() -> None:
            nonlocal released
            with self._lock:
                if released:
                    return
                released = True
                left = self._held[key] - 1
                if left:
                    self._held[key] = left
                else:
                    del self._held[key]

        return release

    def held(self, key: str) -> int:
        with self._lock:
            return self._held.get(key, 0)
