"""A supervised child process (relay or encoder): own process group, progress read, stop politely.

A relay (``Child.relay``) also gets its stream key through a private pipe once its input passed
the gate (``streaming.relay``).

Django-free. Children start in their own session (a signal to the group reaches nothing of
ours) and, where util-linux ``setpriv`` exists, with a parent-death signal, so a media worker
killed with SIGKILL takes its relays and encoders with it instead of leaving them pushing.
"""

from __future__ import annotations

import collections
import contextlib
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from core.redaction import redact
from streaming.progress import Progress, ProgressReader
from streaming.relay import SETTLE_SECONDS, RelayJob, RelayWatch, Verdict

REPO_ROOT = Path(__file__).resolve().parent.parent
_SETPRIV = shutil.which("setpriv")


# What a child may see of the worker's environment: never its settings (database URL, encryption
# and Stripe keys, ...), which FFmpeg has no use for.
_PASSED_ENVIRONMENT = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)


def child_environment(owner: str) -> dict[str, str]:
    """The environment of a supervised process: the few variables above, and a tag that lets ops
    (and tests) tell which supervisor it belongs to (no secret in it)."""
    env = {name: os.environ[name] for name in _PASSED_ENVIRONMENT if name in os.environ}
    env["PRISM_SUPERVISED_BY"] = owner
    return env


def pdeathsig_prefix() -> list[str]:
    return [_SETPRIV, "--pdeathsig", "KILL"] if _SETPRIV else []


class Child:
    """One running process; ``last_advance`` is when its progress last moved forward."""

    def __init__(
        self,
        argv: list[str],
        secrets: tuple[str, ...] = (),
        owner: str = "",
        *,
        on_progress: Callable[[Progress], None] | None = None,
        on_stderr: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        _watch: RelayWatch | None = None,
        _key_pipe: tuple[int, int] | None = None,
    ) -> None:
        self.secrets = secrets
        self.clock = clock  # the supervisor's clock: ``stalled(now)`` compares against it
        self.started = clock()
        self.last_advance: float | None = None
        self.exited = threading.Event()  # set when the process closed its output (it has ended)
        self.on_progress = on_progress
        self.on_stderr = on_stderr  # raw lines, for tests that check nothing secret is printed
        self.watch = _watch
        self._mark: tuple[int, int] = (-1, -1)
        self._err: collections.deque[str] = collections.deque(maxlen=20)
        self._key_lock = threading.Lock()
        self._gate_lock = threading.Lock()  # one verdict: the line reader's or the settle timer's
        self._key_fd = _key_pipe[1] if _key_pipe else None
        try:
            self.proc = subprocess.Popen(
                pdeathsig_prefix() + argv,
                cwd=REPO_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
                # Only the relay inherits the pipe's read end (its argv names it /dev/fd/N).
                pass_fds=(_key_pipe[0],) if _key_pipe else (),
                env=child_environment(owner),
            )
        except BaseException:
            self._close_key_pipe()
            raise
        finally:
            if _key_pipe:
                os.close(_key_pipe[0])
        self._threads = [
            threading.Thread(target=self._read_progress, daemon=True),
            threading.Thread(target=self._read_errors, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    @classmethod
    def relay(
        cls,
        job: RelayJob,
        owner: str = "",
        on_progress: Callable[[Progress], None] | None = None,
        on_stderr: Callable[[str], None] | None = None,
    ) -> Child:
        """Start ``job``'s FFmpeg; its key goes into its ``-fpre`` pipe when the input passes the gate."""
        pipe = os.pipe() if job.destination is not None else None
        return cls(
            job.command(key_fd=pipe[0] if pipe else None),
            job.secrets,
            owner,
            on_progress=on_progress,
            on_stderr=on_stderr,
            _watch=RelayWatch(job),
            _key_pipe=pipe,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read_progress(self) -> None:
        reader = ProgressReader()
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            progress = reader.feed(line)
            if progress is None:
                continue
            if self.on_progress is not None:
                self.on_progress(progress)
            if progress.ended:
                continue
            mark = (progress.out_time_us or 0, progress.total_size or 0)
            if mark > self._mark and (progress.frame or 0) > 0:
                self._mark = mark
                self.last_advance = self.clock()
        self.exited.set()

    def _read_errors(self) -> None:
        assert self.proc.stderr is not None
        settler: threading.Timer | None = None
        for line in self.proc.stderr:
            self._err.append(redact(line.rstrip()[:500], self.secrets))
            if self.on_stderr is not None:
                self.on_stderr(line)
            watch = self.watch
            if watch is None:
                continue
            with self._gate_lock:  # the settle timer decides under the same lock
                waiting = watch.verdict is None
                verdict = watch.feed(line, time.monotonic())
            if verdict is not None:
                self._on_verdict(verdict)
            elif waiting and watch.listing_since is not None and settler is None:
                # No video among the streams listed so far: decide once the listing is over.
                settler = threading.Timer(SETTLE_SECONDS, self._settle)
                settler.daemon = True
                settler.start()
        if settler is not None:
            settler.cancel()
        self._close_key_pipe()

    def _settle(self) -> None:
        if self.watch is not None:
            with self._gate_lock:
                verdict = self.watch.settle(time.monotonic())
            if verdict is not None:
                self._on_verdict(verdict)

    def _on_verdict(self, verdict: Verdict) -> None:
        if verdict.passed and self.watch is not None:
            destination = self.watch.job.destination
            with self._key_lock:
                if destination is not None and self._key_fd is not None:
                    with contextlib.suppress(OSError):  # the relay died meanwhile: failure() says why
                        os.write(self._key_fd, destination.preset().encode())
            self._close_key_pipe()
        else:
            # Refused before the destination was contacted: the key never leaves us.
            self._close_key_pipe()
            self._signal_group(signal.SIGKILL)

    def _close_key_pipe(self) -> None:
        with self._key_lock:
            if self._key_fd is not None:
                with contextlib.suppress(OSError):
                    os.close(self._key_fd)
                self._key_fd = None

    def poll(self) -> int | None:
        return self.proc.poll()

    def stalled(self, now: float, stall: float, start_timeout: float) -> bool:
        if self.last_advance is None:
            return now - self.started > start_timeout
        return now - self.last_advance > stall

    def failure(self) -> tuple[str, str]:
        """(category, redacted message) of a process that ended on its own: a relay's from its
        RelayWatch, an encoder's the last line of its stderr."""
        for thread in self._threads:
            thread.join(timeout=1)
        if self.watch is not None:
            return self.watch.failure(self.proc.returncode)
        return "internal", self._err[-1] if self._err else f"exited with {self.proc.returncode}"

    @property
    def stderr_tail(self) -> list[str]:
        """The last lines of stderr, redacted."""
        return list(self._err)

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
