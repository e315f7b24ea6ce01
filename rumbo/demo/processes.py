"""The demo's helper processes (the local servers, the relay): started with `python -m`, ready when they
say so, stopped by closing their standard input, answering once with a line of JSON.

Plain subprocesses rather than multiprocessing: a child imports only its own module, not the whole
command line the demo was started from, and a child whose parent dies sees its standard input close and
stops too.
"""

from __future__ import annotations

import contextlib
import queue
import resource
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import IO, Any

import orjson

from rumbo.demo.errors import DemoError

READY = "ready"


class ChildProcess:
    """One helper process, seen from the demo: `python -m <module> '<args as JSON>'`."""

    def __init__(self, name: str, module: str, args: dict[str, Any]) -> None:
        self.name = name
        self.command = [sys.executable, "-m", module, orjson.dumps(args).decode()]
        self._process: subprocess.Popen[bytes] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.cpu = 0.0

    def _read(self, stream: IO[bytes]) -> None:
        with stream:
            for line in stream:
                self._lines.put(line.decode().strip())
        self._lines.put(None)

    def start(self, timeout: float = 120.0) -> None:
        """Start the process and wait until it says it is ready."""
        self._process = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self._process.stdout is not None
        threading.Thread(target=self._read, args=(self._process.stdout,), daemon=True).start()
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            line = None
        if line != READY:
            self._process.kill()
            raise DemoError(f"{self.name} did not start; see the messages above")

    def check(self) -> None:
        """Raise if the process stopped on its own."""
        if self._process is not None and self._process.poll() is not None:
            raise DemoError(f"{self.name} exited with {self._process.returncode}; see the messages above")

    def stop(self, timeout: float = 120.0) -> Any:
        """Ask the process to finish; its answer (decoded JSON). `cpu` is then the processor time it used."""
        process = self._process
        if process is None:
            raise DemoError(f"{self.name} was never started")
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            raise DemoError(f"{self.name} did not finish within {timeout:.0f} s") from None
        answer = None
        while (line := self._lines.get(timeout=timeout)) is not None:
            answer = line
        if process.returncode != 0 or answer is None:
            raise DemoError(f"{self.name} exited with {process.returncode}; see the messages above")
        data = orjson.loads(answer)
        self.cpu = float(data["cpu"])
        return data["answer"]


def serve_child(serve: Callable[[dict[str, Any], Callable[[], None], threading.Event], Any]) -> None:
    """A child's main: `serve(args, ready, stop)` runs until `stop` is set (standard input closed) and
    returns the answer, printed as one JSON line."""
    args = orjson.loads(sys.argv[1])
    stop = threading.Event()
    # Ctrl-C reaches the whole process group; the demo stops its children itself, in order.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def watch() -> None:
        sys.stdin.buffer.read()  # returns at end of file: the demo closed the pipe, or died
        stop.set()

    def ready() -> None:
        print(READY, flush=True)

    threading.Thread(target=watch, daemon=True).start()
    answer = {"answer": serve(args, ready, stop), "cpu": cpu_seconds()}
    with contextlib.suppress(BrokenPipeError):  # the demo was killed: nobody is left to answer
        print(orjson.dumps(answer).decode(), flush=True)


def cpu_seconds() -> float:
    """Processor time this process has used so far (user and system), to show where the demo's time went."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
