"""The delivery worker: one thread that takes due deliveries from the outbox and a small pool
that sends them.

At least once: a delivery stays `pending` until an answer says it arrived, so one in flight when
ccemu stops is sent again after the restart (with the same MessageId and body). A retryable
failure (5xx, 429, timeout, connection error) is tried again after the delay of its retry
policy; when the policy is spent, or the answer is final (another 4xx, a 3xx, a refused address),
the delivery is parked as `dead` and can be redelivered through `Outbox.redeliver`.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from emulator.events import http_client
from emulator.events.outbox import DEAD, DELIVERED, PENDING, Delivery, Outbox

log = logging.getLogger(__name__)

# After a poke that found nothing new (the producer's transaction had not committed yet), look
# again this often for this long.
_POKE_RECHECK = 0.002
_POKE_WINDOW = 0.5
_IDLE_WAIT = 5.0


class DeliveryWorker:
    def __init__(
        self,
        outbox: Outbox,
        *,
        retry_scale: float = 1.0,
        timeout: float = 15.0,
        max_response: int = 64 * 1024,
        concurrency: int = 8,
    ) -> None:
        self.outbox = outbox
        self.retry_scale = retry_scale
        self.timeout = timeout
        self.max_response = max_response
        self.concurrency = concurrency
        self._busy: set[int] = set()
        self._busy_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="ccemu-delivery")
        self._thread = threading.Thread(target=self._run, name="ccemu-outbox", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop taking work; wait up to `timeout` for the sends in flight. Whatever is not
        finished stays pending in the outbox and is sent after the next start."""
        if self._thread is None:
            return
        self._stop.set()
        self.outbox.poke()
        self._thread.join(timeout)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            deadline = time.monotonic() + timeout
            while self._busy and time.monotonic() < deadline:
                time.sleep(0.01)
        self._thread = None

    # -- the loop ---------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                started = self._dispatch()
            except Exception:
                log.exception("outbox: cannot read due deliveries")
                started = 0
            if started:
                continue
            self._sleep()

    def _dispatch(self) -> int:
        with self._busy_lock:
            busy = set(self._busy)
            free = self.concurrency - len(busy)
        if free <= 0:
            return 0
        due = self.outbox.due(time.time(), busy, limit=free)
        for delivery in due:
            with self._busy_lock:
                self._busy.add(delivery.id)
            assert self._pool is not None
            try:
                self._pool.submit(self._send, delivery)
            except RuntimeError:  # the pool is shutting down
                with self._busy_lock:
                    self._busy.discard(delivery.id)
                return 0
        return len(due)

    def _sleep(self) -> None:
        outbox = self.outbox
        with outbox.changed:
            poked = outbox.poked_at
            if time.monotonic() - poked < _POKE_WINDOW:
                wait = _POKE_RECHECK
            else:
                wait = _IDLE_WAIT
                try:
                    when = outbox.next_due()
                except Exception:
                    when = None
                if when is not None:
                    wait = max(0.0, min(wait, when - time.time()))
            if wait > 0 and not self._stop.is_set():
                outbox.changed.wait(wait)

    # -- one send ---------------------------------------------------------------------------

    def _send(self, delivery: Delivery) -> None:
        try:
            self._attempt(delivery)
        except Exception:
            log.exception("outbox: delivery %s failed unexpectedly", delivery.id)
        finally:
            with self._busy_lock:
                self._busy.discard(delivery.id)
            self.outbox.poke()

    def _attempt(self, delivery: Delivery) -> None:
        started = time.time()
        try:
            answer = http_client.post(
                delivery.url,
                delivery.body,
                delivery.headers,
                timeout=self.timeout,
                max_response=self.max_response,
            )
        except http_client.BlockedAddress as exc:
            self.outbox.record(delivery, started, 0.0, None, str(exc), DEAD, started)
            return
        if self._stop.is_set() and not answer.ok:
            # Stopping: leave it pending, untouched, for the next start.
            return
        if answer.ok:
            state, next_attempt = DELIVERED, started
        elif answer.retryable and delivery.attempts < delivery.policy.num_retries:
            delay = delivery.policy.delay(delivery.attempts + 1) * self.retry_scale
            state, next_attempt = PENDING, time.time() + delay
        else:
            state, next_attempt = DEAD, started
        error = answer.error
        if error is None and not answer.ok:
            snippet = answer.body[:200].decode("utf-8", "replace")
            error = f"HTTP {answer.status}" + (f": {snippet}" if snippet else "")
        self.outbox.record(
            delivery, started, answer.duration, answer.status, error, state, next_attempt
        )
        if state == DEAD:
            log.warning(
                "outbox: delivery %s to %s is dead after %d attempts (%s)",
                delivery.id,
                delivery.url,
                delivery.attempts + 1,
                error,
            )
