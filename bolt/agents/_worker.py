"""The worker loop behind ``TaskCoordinator.subscribe``.

Theory of operation
-------------------
A :class:`Worker` has one loop thread and up to ``credit`` callback threads
(with a credit of 1, the default, the callback runs on the loop thread).
The loop takes a credit slot, then sends a blocking claim
(``TASK.CLAIMWAIT``): the server answers the moment a task of the type is
ready -- a push in effect, no polling -- or after
``limits.task_worker_claim_wait_ms`` with nothing, and the loop asks again.
With a credit of 1 and no budget the completion and the next claim go in one
request (``TASK.NEXT``: one round trip per task instead of two); a task so
claimed when the worker stops is released. A claimed task runs in its own
thread; a heartbeat thread renews the lease
of every running task every third of the lease. When the callback ends the
task is completed (with the return value) unless the callback finished it
itself; an exception fails it with its text, retried per ``max_attempts``.

Connection loss (a daemon restart, a network cut) is not the end: the loop
backs off (up to ``limits.task_worker_backoff_ms_max``) and claims again on
a new connection. A claim whose reply was lost stays claimed until its lease
expires, then goes to another agent: nothing is lost, and the fencing token
stops a late completion.

The loop and callback threads are daemon threads: they never keep an
interpreter alive by themselves, so a test that fails before it stops its
coordinator does not hang pytest at exit. What keeps a worker *script*
serving (its last line ``coord.subscribe(...)``) is one non-daemon
**keeper** thread per process, started with the first subscription, that
lives while any worker does. The keeper is not started in a pytest process
(``_pytest`` is imported: a test owns its coordinators, and a child script
it starts is not such a process) or with ``keep_alive=False``. An
uncaught exception in the main thread (``sys.excepthook``) or in any thread
stops every worker first, so a script whose ``subscribe`` -- or anything
after it -- raises exits with the traceback instead of hanging. On SIGTERM
or Ctrl-C (handlers installed if the main thread still has the default
ones) the workers stop claiming, running callbacks finish, and the process
exits; a second signal gives running tasks back (``TASK.RELEASE``) and
exits at once.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any

from bolt import limits
from bolt.agents._task import Task
from bolt.errors import BoltConnectionError, BoltError, BoltTimeoutError

if TYPE_CHECKING:
    from bolt.agents._budget import Budget
    from bolt.agents._coordinator import TaskCoordinator
    from bolt.agents._requests import Callback

logger = logging.getLogger("bolt.agents")

_workers: list[Worker] = []  # every live worker of this process (for the signal handler)
_signals_installed = False
_signal_count = 0


def _on_signal(signum: int, frame: Any) -> None:
    global _signal_count
    _signal_count += 1
    if _signal_count == 1:
        logger.info("signal %d: stopping the task workers after their current tasks", signum)
        for worker in list(_workers):
            worker.stop()
        return
    for worker in list(_workers):
        worker.release_running()
    os._exit(128 + signum)


_keeper: threading.Thread | None = None
_hooks_installed = False


def _stop_all() -> None:
    for worker in list(_workers):
        worker.stop()


def _install_exception_hooks() -> None:
    """Stop every worker on an uncaught exception (chained to the previous hooks)."""
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    previous, previous_thread = sys.excepthook, threading.excepthook

    def excepthook(kind: Any, value: Any, traceback: Any) -> None:
        _stop_all()
        previous(kind, value, traceback)

    def thread_excepthook(args: Any) -> None:
        if args.thread is threading.main_thread() or args.thread is _keeper:
            _stop_all()
        previous_thread(args)

    sys.excepthook = excepthook
    threading.excepthook = thread_excepthook


def keeps_alive(keep_alive: bool | None) -> bool:
    """Whether subscriptions keep the process alive (``None``: yes, except under pytest)."""
    if keep_alive is None:
        return "_pytest" not in sys.modules
    return keep_alive


def _keep() -> None:
    while True:
        workers = list(_workers)
        if not workers:
            return
        workers[0]._loop.join(0.5)


def _start_keeper() -> None:
    global _keeper
    if _keeper is None or not _keeper.is_alive():
        _keeper = threading.Thread(target=_keep, name="bolt-agents-keeper", daemon=False)
        _keeper.start()


def _install_signal_handlers() -> None:
    global _signals_installed
    if _signals_installed or threading.current_thread() is not threading.main_thread():
        return
    _signals_installed = True
    if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _on_signal)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_signal)


class Worker:
    """One subscription: claims tasks of one type for one agent (see the module docstring)."""

    def __init__(
        self,
        coordinator: TaskCoordinator,
        task_type: str,
        agent_id: str,
        callback: Callback,
        credit: int,
        lease_ms: int,
        budget: Budget | None = None,
        keep_alive: bool | None = None,
    ) -> None:
        if credit < 1:
            raise ValueError("credit must be at least 1")
        self.coordinator = coordinator
        self.task_type = task_type
        self.agent_id = agent_id
        self.callback = callback
        self.credit = credit
        self.lease_ms = lease_ms
        self.budget = budget
        self.keep_alive = keeps_alive(keep_alive)
        self.tasks_run = 0
        self.tasks_failed = 0
        self._next: Task | None = None  # claimed with the last completion (TASK.NEXT)
        self._stop = threading.Event()
        self._slots = threading.BoundedSemaphore(credit)
        self._running: dict[str, threading.Thread] = {}
        self._lock = threading.Lock()
        self._loop = threading.Thread(
            target=self._run, name=f"bolt-agent-{agent_id}-{task_type}", daemon=True
        )
        self._heartbeat = threading.Thread(
            target=self._beat, name=f"bolt-heartbeat-{agent_id}", daemon=True
        )

    def start(self) -> None:
        """Start the loop and heartbeat threads (and the keeper: see the module docstring)."""
        _install_signal_handlers()
        _install_exception_hooks()
        _workers.append(self)
        self._loop.start()
        self._heartbeat.start()
        if self.keep_alive:
            _start_keeper()

    def stop(self) -> None:
        """Stop claiming (non-blocking); running callbacks finish."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        """Wait until the loop and the running callbacks ended."""
        self._loop.join(timeout)

    @property
    def stopped(self) -> bool:
        """True once the loop ended."""
        return not self._loop.is_alive()

    def release_running(self) -> None:
        """Give every running task back to pending (best effort, at a hard stop)."""
        with self._lock:
            running = list(self._running)
        for task_id in running:
            try:
                self.coordinator.release_task(task_id)
            except BoltError:
                pass

    # --- the loop ----------------------------------------------------------------------

    def _run(self) -> None:
        backoff = 0.05
        try:
            while not self._stop.is_set():
                if not self._slots.acquire(timeout=0.5):
                    continue
                try:
                    if self.budget is not None and not self.budget.wait(self._stop):
                        self._slots.release()
                        continue
                    task, self._next = self._next, None
                    if task is None:
                        task = self.coordinator.claim_next(
                            self.task_type,
                            self.agent_id,
                            wait=limits.task_worker_claim_wait_ms / 1000,
                            lease_ms=self.lease_ms,
                        )
                except (BoltConnectionError, BoltTimeoutError, OSError) as exc:
                    self._slots.release()
                    logger.info("task worker %s: server unreachable (%s)", self.agent_id, exc)
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, limits.task_worker_backoff_ms_max / 1000)
                    continue
                except BoltError as exc:
                    self._slots.release()
                    logger.warning("task worker %s: claim refused: %s", self.agent_id, exc)
                    self._stop.wait(limits.task_worker_backoff_ms_max / 1000)
                    continue
                backoff = 0.05
                if task is None:
                    self._slots.release()
                elif self._stop.is_set():
                    self._give_back(task)
                else:
                    if self.budget is not None and self.budget.cost_per_task:
                        self._charge(task)
                    self._spawn(task)
        finally:
            if self._next is not None:  # claimed with the last completion, never started
                task, self._next = self._next, None
                try:
                    self.coordinator.release_task(task.id)
                except BoltError:
                    pass  # its lease expires instead
            with self._lock:
                running = list(self._running.values())
            for thread in running:
                if thread is not threading.current_thread():
                    thread.join()
            if self in _workers:
                _workers.remove(self)

    def _charge(self, task: Task) -> None:
        assert self.budget is not None
        try:
            self.budget.spend(self.budget.cost_per_task)
        except BoltError as exc:
            logger.warning("task %s: rate limit not charged: %s", task.id, exc)

    def _give_back(self, task: Task) -> None:
        try:
            self.coordinator.release_task(task.id)
        except BoltError:
            pass  # its lease expires instead
        finally:
            self._slots.release()

    def _spawn(self, task: Task) -> None:
        if self.credit == 1:
            # One task at a time: run it on the loop thread (no thread per task);
            # the loop claims again only after it, as the credit says anyway.
            with self._lock:
                self._running[task.id] = threading.current_thread()
            self._execute(task)
            return
        thread = threading.Thread(
            target=self._execute, args=(task,), name=f"bolt-task-{task.id}", daemon=True
        )
        with self._lock:
            self._running[task.id] = thread
        thread.start()

    def _execute(self, task: Task) -> None:
        coordinator = self.coordinator
        try:
            try:
                value = self.callback(task)
            except Exception as exc:
                self.tasks_failed += 1
                logger.warning("task %s failed in its callback: %r", task.id, exc)
                if coordinator.holds(task.id):
                    coordinator.fail_task(task.id, f"{type(exc).__name__}: {exc}", retry=True)
            else:
                if coordinator.holds(task.id):
                    self._complete(task, value)
            self.tasks_run += 1
        except BoltError as exc:
            # The lease was lost (fenced off) or the server is gone: the task is
            # someone else's now, or comes back when its lease expires.
            logger.warning("task %s: could not record its outcome: %s", task.id, exc)
            coordinator._forget(task.id)
        finally:
            with self._lock:
                self._running.pop(task.id, None)
            self._slots.release()

    def _complete(self, task: Task, value: Any) -> None:
        """Complete ``task``; one task at a time and no budget: claim the next with it."""
        coordinator = self.coordinator
        if (
            self.credit != 1
            or self.budget is not None
            or self._stop.is_set()
            or not coordinator.next_with_completion
        ):
            coordinator.complete_task(task.id, value)
            return
        self._next = coordinator.complete_and_claim_next(
            task.id,
            value,
            self.task_type,
            self.agent_id,
            wait=limits.task_worker_claim_wait_ms / 1000,
            lease_ms=self.lease_ms,
        )

    def _beat(self) -> None:
        interval = self.lease_ms / 3000
        while not self._loop_done(interval):
            with self._lock:
                running = list(self._running)
            for task_id in running:
                if not self.coordinator.holds(task_id):
                    continue
                try:
                    self.coordinator.renew_lease(task_id, self.lease_ms)
                except BoltError as exc:
                    logger.info("task %s: lease not renewed: %s", task_id, exc)

    def _loop_done(self, wait: float) -> bool:
        self._loop.join(wait)
        return not self._loop.is_alive()
