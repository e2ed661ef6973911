"""event_delivery: the retry machinery behind EventBridge targets and asynchronous Lambda
invocations (no moto involved)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from spinboard_sandbox.event_delivery import (
    DeliveryFailed,
    GaveUp,
    RetryingDelivery,
    Scheduler,
    eventbridge_backoff,
    lambda_async_backoff,
)

SCALE = 0.01


@pytest.fixture
def scheduler() -> Iterator[Scheduler]:
    running = Scheduler("test", workers=2)
    yield running
    running.shutdown()


class Recorder:
    def __init__(self, failures: list[Exception]) -> None:
        self.failures = list(failures)
        self.attempt_times: list[float] = []
        self.successes: list[tuple[Any, int]] = []
        self.gave_up: list[GaveUp] = []

    def attempt(self) -> str:
        self.attempt_times.append(time.monotonic())
        if self.failures:
            raise self.failures.pop(0)
        return "delivered"

    def deliver(
        self,
        scheduler: Scheduler,
        *,
        max_retries: int = 5,
        max_age_seconds: float = 3600,
        backoff_seconds: float = 10.0,
    ) -> None:
        RetryingDelivery(
            scheduler,
            self.attempt,
            max_retries=max_retries,
            max_age_seconds=max_age_seconds,
            backoff=lambda _retry: backoff_seconds,
            time_scale=lambda: SCALE,
            on_give_up=self.gave_up.append,
            on_success=lambda result, attempts: self.successes.append((result, attempts)),
        ).start()
        assert scheduler.wait_idle(10)


def throttled() -> DeliveryFailed:
    return DeliveryFailed("THROTTLING", "slow down")


def test_retryable_failures_are_retried_after_the_scaled_backoff(scheduler: Scheduler) -> None:
    recorder = Recorder([throttled(), throttled()])
    recorder.deliver(scheduler, backoff_seconds=10.0)

    assert recorder.successes == [("delivered", 3)]
    assert recorder.gave_up == []
    gaps = [b - a for a, b in zip(recorder.attempt_times, recorder.attempt_times[1:], strict=False)]
    assert all(gap >= 10.0 * SCALE * 0.9 for gap in gaps), gaps  # 10 AWS seconds, scaled


def test_retries_run_out(scheduler: Scheduler) -> None:
    recorder = Recorder([throttled() for _ in range(5)])
    recorder.deliver(scheduler, max_retries=2)

    assert recorder.successes == []
    (gave_up,) = recorder.gave_up
    assert (gave_up.attempts, gave_up.retries, gave_up.exhausted) == (3, 2, "MaximumRetryAttempts")
    assert gave_up.failure.code == "THROTTLING"


def test_the_event_age_runs_out_before_the_retries(scheduler: Scheduler) -> None:
    recorder = Recorder([throttled() for _ in range(5)])
    recorder.deliver(scheduler, max_retries=10, max_age_seconds=150, backoff_seconds=100)

    (gave_up,) = recorder.gave_up
    # Attempt 1 at 0 s, attempt 2 at 100 s; a third at 200 s would be older than 150 s.
    assert (gave_up.attempts, gave_up.exhausted) == (2, "MaximumEventAgeInSeconds")


def test_a_failure_that_is_not_retryable_gives_up_at_once(scheduler: Scheduler) -> None:
    recorder = Recorder([DeliveryFailed("NO_PERMISSIONS", "denied", retryable=False)])
    recorder.deliver(scheduler)

    (gave_up,) = recorder.gave_up
    assert (gave_up.attempts, gave_up.retries, gave_up.exhausted) == (1, 0, "")
    assert gave_up.failure.message == "denied"


def test_an_unexpected_exception_is_retried_as_an_internal_error(scheduler: Scheduler) -> None:
    recorder = Recorder([KeyError("boom")])
    recorder.deliver(scheduler, max_retries=0)

    (gave_up,) = recorder.gave_up
    assert gave_up.failure.code == "INTERNAL_ERROR"
    assert "KeyError" in gave_up.failure.message
    assert gave_up.exhausted == "MaximumRetryAttempts"


def test_scheduler_runs_work_in_time_order_and_shutdown_drops_what_is_scheduled() -> None:
    scheduler = Scheduler("order", workers=1)
    ran: list[str] = []
    done = threading.Event()
    scheduler.call_later(0.2, lambda: ran.append("late"))
    scheduler.call_later(0.05, lambda: ran.append("early"))
    scheduler.call_later(0.3, done.set)
    scheduler.call_later(60, lambda: ran.append("never"))
    assert done.wait(5)
    assert ran == ["early", "late"]
    assert scheduler.outstanding() == 1
    scheduler.shutdown()
    scheduler.call_later(0, lambda: ran.append("after shutdown"))
    time.sleep(0.1)
    assert ran == ["early", "late"]


def test_backoffs_are_those_of_the_services() -> None:
    assert [lambda_async_backoff(r) for r in range(3)] == [60.0, 120.0, 120.0]
    for retry in range(12):
        delay = eventbridge_backoff(retry)
        assert min(2.0**retry, 180.0) * 0.5 <= delay <= min(2.0**retry, 180.0)
