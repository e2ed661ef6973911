"""Deliveries that AWS makes in the background, for the sandbox: EventBridge rule targets and
Lambda's asynchronous invocations, each with its retries and its dead letters.

This module knows nothing about moto. A delivery is an `attempt` callable that returns (its
result goes to `on_success`) or raises `DeliveryFailed`; once the failure is not retryable,
or the retries or the event's maximum age are exhausted, `on_give_up` gets the last failure.
Delays are AWS seconds multiplied by the time scale (SANDBOX_TIME_SCALE), like the sandbox's
Step Functions retries and waits; the maximum event age is measured in the same scaled time.
Waiting never holds a thread: a timer thread hands due work to a few worker threads.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("spinboard_sandbox.deliveries")

EVENTBRIDGE_MAX_BACKOFF_SECONDS = 180.0
LAMBDA_ASYNC_RETRY_DELAYS = (60.0, 120.0)
"""Lambda waits one minute before the second attempt, two minutes before the third."""


class DeliveryFailed(Exception):
    """One attempt failed: `code` names why (EventBridge's ERROR_CODE values, or Lambda's
    function error), `retryable` whether another attempt may succeed, `detail` what the
    target answered (a Lambda error payload)."""

    def __init__(
        self, code: str, message: str, *, retryable: bool = True, detail: Any = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable
        self.detail = detail


@dataclass(frozen=True)
class GaveUp:
    """Why a delivery ended without success."""

    failure: DeliveryFailed
    attempts: int
    exhausted: str
    """"MaximumRetryAttempts" or "MaximumEventAgeInSeconds" when a retryable failure ran
    out of them; "" when the failure was not retryable."""

    @property
    def retries(self) -> int:
        return self.attempts - 1


def eventbridge_backoff(retry: int) -> float:
    """EventBridge retries with exponential backoff and jitter (AWS seconds)."""
    return min(2.0**retry, EVENTBRIDGE_MAX_BACKOFF_SECONDS) * random.uniform(0.5, 1.0)  # noqa: S311


def lambda_async_backoff(retry: int) -> float:
    """Lambda's asynchronous retries: 1 minute, then 2 minutes (AWS seconds)."""
    return LAMBDA_ASYNC_RETRY_DELAYS[min(retry, len(LAMBDA_ASYNC_RETRY_DELAYS) - 1)]


class Scheduler:
    """Runs callables now or later on a few daemon worker threads; thread-safe."""

    def __init__(self, name: str, workers: int = 8) -> None:
        self.name = name
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._ready: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._condition = threading.Condition()
        self._sequence = itertools.count()
        self._outstanding = 0
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
            for i in range(workers)
        ]
        self._threads.append(threading.Thread(target=self._tick, name=f"{name}-timer", daemon=True))
        for thread in self._threads:
            thread.start()

    def call_later(self, delay: float, work: Callable[[], None]) -> None:
        """Run `work` after `delay` real seconds (at once when <= 0)."""
        with self._condition:
            if self._closed:
                return
            self._outstanding += 1
            if delay <= 0:
                self._ready.put(work)
                return
            heapq.heappush(self._timers, (time.monotonic() + delay, next(self._sequence), work))
            self._condition.notify_all()

    def outstanding(self) -> int:
        """Work scheduled or running."""
        with self._condition:
            return self._outstanding

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is scheduled or running; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while self._outstanding:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._condition.wait(min(remaining, 0.1))
            return True

    def shutdown(self) -> None:
        """Drop what is scheduled; running work finishes on its own (daemon threads)."""
        with self._condition:
            self._closed = True
            self._timers.clear()
            self._condition.notify_all()
        for _ in self._threads:
            self._ready.put(None)

    def _tick(self) -> None:
        with self._condition:
            while not self._closed:
                now = time.monotonic()
                while self._timers and self._timers[0][0] <= now:
                    self._ready.put(heapq.heappop(self._timers)[2])
                wait = self._timers[0][0] - now if self._timers else None
                self._condition.wait(wait)

    def _work(self) -> None:
        while (work := self._ready.get()) is not None:
            try:
                work()
            except Exception:
                log.exception("%s: delivery work failed", self.name)
            finally:
                with self._condition:
                    self._outstanding -= 1
                    self._condition.notify_all()


class RetryingDelivery:
    """One event to one target: attempts until success, a failure that is not retryable,
    `max_retries` retries, or an age of `max_age_seconds` (AWS seconds, scaled)."""

    def __init__(
        self,
        scheduler: Scheduler,
        attempt: Callable[[], Any],
        *,
        max_retries: int,
        max_age_seconds: float,
        backoff: Callable[[int], float],
        time_scale: Callable[[], float],
        on_give_up: Callable[[GaveUp], None],
        on_success: Callable[[Any, int], None] | None = None,
        description: str = "delivery",
    ) -> None:
        self.scheduler = scheduler
        self.attempt = attempt
        self.max_retries = max(int(max_retries), 0)
        self.max_age_seconds = float(max_age_seconds)
        self.backoff = backoff
        self.time_scale = time_scale
        self.on_give_up = on_give_up
        self.on_success = on_success
        self.description = description
        self.attempts = 0
        self._started = time.monotonic()

    def start(self) -> None:
        self._started = time.monotonic()
        self.scheduler.call_later(0, self._try)

    def _age(self) -> float:
        """How old the event is, in AWS seconds."""
        return (time.monotonic() - self._started) / max(self.time_scale(), 1e-9)

    def _try(self) -> None:
        self.attempts += 1
        try:
            result = self.attempt()
        except DeliveryFailed as failed:
            failure = failed
        except Exception as exc:  # a bug or an unexpected state: retried like a 5xx
            log.exception("%s: attempt %d raised", self.description, self.attempts)
            failure = DeliveryFailed("INTERNAL_ERROR", f"{type(exc).__name__}: {exc}")
        else:
            if self.on_success is not None:
                self.on_success(result, self.attempts)
            return
        retry = self.attempts - 1
        if not failure.retryable:
            exhausted = ""
        elif retry >= self.max_retries:
            exhausted = "MaximumRetryAttempts"
        else:
            delay = self.backoff(retry)
            if self._age() + delay <= self.max_age_seconds:
                log.info(
                    "%s: attempt %d failed (%s), retrying in %.0f s (AWS time)",
                    self.description,
                    self.attempts,
                    failure,
                    delay,
                )
                self.scheduler.call_later(delay * self.time_scale(), self._try)
                return
            exhausted = "MaximumEventAgeInSeconds"
        log.warning(
            "%s: gave up after %d attempt(s)%s: %s",
            self.description,
            self.attempts,
            f" ({exhausted} exhausted)" if exhausted else "",
            failure,
        )
        self.on_give_up(GaveUp(failure, self.attempts, exhausted))
