"""A supervised child process (relay or encoder): own process group, progress read, stop politely.

Django-free. Children start in their own session (a signal to the group reaches nothing of
ours) and, where util-linux ``setpriv`` exists, with a parent-death signal, so a media worker
killed with SIGKILL takes its relays and encoders with it instead of leaving them pushing.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

from streaming.progress import ProgressReader
from streaming.relay import redact

REPO_ROOT = Path(__file__).resolve().parent.parent
_SETPRIV = shutil.which("setpriv")


def pdeathsig_prefix() -> list[str]:
    return [_SETPRIV, "--pdeathsig", "KILL"] if _SETPRIV else []


class Child:
    """One running process; ``last_advance`` is when its progress last moved forward."""

    def __init__(
        self, argv: list[str], stdin_text: str | None = None, secrets: tuple[str, ...] = (), owner: str = ""
    ) -> None:
        self.secrets = secrets
        self.started = time.monotonic()
        self.last_advance: float | None = None
        self.frames = 0
        self._mark: tuple[int, int] = (-1, -1)
        self._err: collections.deque[str] = collections.deque(maxlen=20)
        self.proc = subprocess.Popen(
            pdeathsig_prefix() + argv,
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            # Lets ops (and tests) tell which supervisor a process belongs to; holds no secret.
            env={**os.environ, "PRISM_SUPERVISED_BY": owner},
        )
        if stdin_text is not None and self.proc.stdin is not None:
            try:
                self.proc.stdin.write(stdin_text)
                self.proc.stdin.close()
            except OSError:
                pass
        self._threads = [
            threading.Thread(target=self._read_progress, daemon=True),
            threading.Thread(target=self._read_errors, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read_progress(self) -> None:
        reader = ProgressReader()
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            progress = reader.feed(line)
            if progress is None or progress.ended:
                continue
            mark = (progress.out_time_us or 0, progress.total_size or 0)
            if mark > self._mark and (progress.frame or 0) > 0:
                self._mark = mark
                self.frames = progress.frame or 0
                self.last_advance = time.monotonic()

    def _read_errors(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._err.append(redact(line.rstrip()[:500], self.secrets))

    def poll(self) -> int | None:
        return self.proc.poll()

    def stalled(self, now: float, stall: float, start_timeout: float) -> bool:
        if self.last_advance is None:
            return now - self.started > start_timeout
        return now - self.last_advance > stall

    def failure(self) -> tuple[str, str]:
        """(category, redacted message) from the relay's last ``relay-error:`` line, else ffmpeg's stderr."""
        for thread in self._threads:
            thread.join(timeout=1)
        for line in reversed(self._err):
            if line.startswith("relay-error:"):
                _, category, message = [*line.split(":", 2), "", ""][:3]
                return category.strip(), message.strip()
        return "internal", self._err[-1] if self._err else f"exited with {self.proc.returncode}"

    def _signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, sig)

    def kill(self) -> None:
        self._signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)

    def stop(self, grace: float) -> None:
        """SIGINT (the relay and ffmpeg close the stream cleanly), SIGKILL after ``grace`` seconds."""
        if self.proc.poll() is None:
            self._signal_group(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=grace)
        self.kill()


def relay_job(input_url: str, output_url: str, **fields: object) -> str:
    """The relay's stdin line; the output URL (with the key) travels only here."""
    return json.dumps({"input": input_url, "output": output_url, **fields}) + "\n"
