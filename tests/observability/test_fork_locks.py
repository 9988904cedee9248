"""A forked worker (gunicorn --preload) inherits no locked lock of the observability
modules: the parent's hook queue, counts or publisher lock may be held at the moment
of the fork (by the hook thread, the registry worker), and the child must neither
hang nor lose its first event, and start counting from zero."""

from __future__ import annotations

import os
import threading
import time

import pytest

from soajs.observability import ReloadEvent, clear_hooks, hooks, on_reload


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_child_forked_while_the_queue_was_locked_still_delivers() -> None:
    clear_hooks()
    read, write = os.pipe()

    @on_reload
    def tell(event: ReloadEvent) -> None:
        os.write(write, b"x")

    hooks._queue.mutex.acquire()  # as if the hook thread held it when the server forked
    try:
        pid = os.fork()
        if pid == 0:  # the child: emit must return at once and the hook must run
            try:
                done = threading.Event()

                def send() -> None:
                    hooks.emit(ReloadEvent("s", True, 0.1))
                    done.set()

                threading.Thread(target=send, daemon=True).start()
                ok = done.wait(5)
                time.sleep(1)  # for the hook thread to run the hook
                os._exit(0 if ok else 3)
            except BaseException:
                os._exit(4)
    finally:
        hooks._queue.mutex.release()
    try:
        end = time.monotonic() + 20
        while True:
            done_pid, status = os.waitpid(pid, os.WNOHANG)
            if done_pid:
                break
            assert time.monotonic() < end, "the child hung"
            time.sleep(0.05)
        assert os.waitstatus_to_exitcode(status) == 0
        os.set_blocking(read, False)
        end = time.monotonic() + 5
        got = b""
        while not got and time.monotonic() < end:
            try:
                got = os.read(read, 1)
            except BlockingIOError:
                time.sleep(0.05)
        assert got == b"x"  # the child's hook ran
    finally:
        clear_hooks()
        os.close(read)
        os.close(write)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_child_forked_while_a_count_was_locked_starts_from_zero_without_hanging() -> None:
    from soajs.observability import counters, workers

    counters.stats.polls.add(("s", "ok"))
    held = [counters.stats.polls._lock, counters.stats.latency._lock, workers._lock]
    for lock in held:  # as if the registry worker was counting when the server forked
        lock.acquire()
    try:
        pid = os.fork()
        if pid == 0:
            try:
                counters.stats.polls.add(("s", "ok"))
                workers.serving()
                os._exit(0 if counters.stats.polls.items() == [(("s", "ok"), 1.0)] else 5)
            except BaseException:
                os._exit(4)
    finally:
        for lock in held:
            lock.release()
    end = time.monotonic() + 20
    while True:  # a hang at fork (an inherited lock acquired) never returns
        done_pid, status = os.waitpid(pid, os.WNOHANG)
        if done_pid:
            break
        if time.monotonic() > end:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung on an inherited lock")
        time.sleep(0.05)
    assert os.waitstatus_to_exitcode(status) == 0
