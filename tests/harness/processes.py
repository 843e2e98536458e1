"""Child processes with their output in a log file, and our scripts' services: stopped by PID."""

import signal
import socket
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from tests.harness.paths import REPO, cache_dir


def faust(*args: str, app: str = "weather_app") -> list[str]:
    """The command line of `faust -A app args...` with this interpreter."""
    return [sys.executable, "-m", "faust", "-A", app, *args]


def run_module(module: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`python -m module args...` with this interpreter in the repository, run to its end."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def recorded_pid(service: str, port: int) -> int | None:
    """The PID our script recorded for the `service` (kafka, cassandra) it started on `port`, while
    that process runs."""
    try:
        pid = int((cache_dir() / "run" / f"{service}-{port}.pid").read_text())
    except (OSError, ValueError):
        return None
    return pid if Path(f"/proc/{pid}").exists() else None


class Process:
    """A child process with its output (stdout and stderr) in `log_path`, stopped by its PID."""

    def __init__(self, args: list[str], log_path: Path, env: dict[str, str], cwd: Path) -> None:
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("wb")
        self.process = subprocess.Popen(
            args, env=env, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT
        )
        self.pid = self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30) -> int:
        """Send `sig` (unless it has exited), SIGKILL after `timeout` s; its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()
        return self.process.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 20) -> str:
        return "\n".join(self.log().splitlines()[-lines:])


class ScriptService:
    """A local service run by one of our scripts (`up`/`down`), stopped by the PID it recorded.

    `with service:` runs `up`, then `down` on the way out (not when `up` failed).
    `quiet` sends the script's own output to /dev/null instead of this process's stdout.
    """

    def __init__(self, script: str, env: dict[str, str], quiet: bool = False) -> None:
        self.script = str(REPO / "scripts" / script)
        self.env = env
        self.quiet = quiet

    def _run(self, action: str, timeout: float) -> None:
        stdout = subprocess.DEVNULL if self.quiet else None
        subprocess.run(
            [self.script, action], env=self.env, check=True, timeout=timeout, stdout=stdout
        )

    def up(self) -> None:
        self._run("up", 300)

    def try_up(self, port_taken: int) -> subprocess.CompletedProcess[str]:
        """Run `up` (output captured, no exception when it fails) while this process holds
        `port_taken` bound but not listening: the script's "port in use" probe cannot see it, the
        service's own bind fails."""
        with socket.socket() as squatter:
            squatter.bind(("127.0.0.1", port_taken))
            return subprocess.run(
                [self.script, "up"], env=self.env, capture_output=True, text=True, timeout=300
            )

    def down(self) -> None:
        self._run("down", 120)

    def __enter__(self) -> Self:
        self.up()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.down()
