"""A maintenance listener alone in a child process, to measure it from outside.

``python -m tests.integration.listener_process PORT LOGFILE [request_timeout]``:
serves on 127.0.0.1:PORT, logs the ``soajs`` loggers (DEBUG) to LOGFILE, prints
``READY`` and serves until stdin closes. Its threads (/proc/PID/task), fds
(/proc/PID/fd) and stderr are what the tests measure.
"""

from __future__ import annotations

import logging
import sys

from soajs.middleware import HealthEndpoints, MaintenanceListener


def main() -> None:
    port, log_file = int(sys.argv[1]), sys.argv[2]
    handler = logging.FileHandler(log_file)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("soajs")
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 5.0
    listener = MaintenanceListener(
        HealthEndpoints(), port, host="127.0.0.1", request_timeout=timeout
    )
    assert listener.start()
    print("READY", flush=True)
    sys.stdin.read()
    listener.stop()


if __name__ == "__main__":
    main()
