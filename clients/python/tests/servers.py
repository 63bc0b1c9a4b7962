"""Real servers for the tests: `lshc serve` on SQLite, `lshc silo` processes on a throwaway PostgreSQL."""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from typing import Dict, List, Optional

REPOSITORY = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
LSHC_DLL = os.environ.get("LSHC_DLL", os.path.join(REPOSITORY, "src", "LshCluster.Cli", "bin", "Release", "net10.0", "lshc.dll"))


def lshc(*args: str, env: Optional[Dict[str, str]] = None) -> str:
    """Runs an lshc command to its end; its output, or an AssertionError with it."""
    if not os.path.exists(LSHC_DLL):
        raise AssertionError(f"{LSHC_DLL} is missing: build first (dotnet build LshCluster.sln -c Release)")
    done = subprocess.run(["dotnet", LSHC_DLL, *args], capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})})
    if done.returncode != 0:
        raise AssertionError(f"lshc {' '.join(args)} exited with {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done.stdout


class Process:
    """A long-running lshc process whose output is kept; `wait_for` a line it prints."""

    def __init__(self, args: List[str], env: Optional[Dict[str, str]] = None) -> None:
        self.args = args
        self._lines: List[str] = []
        self._changed = threading.Condition()
        self.popen = subprocess.Popen(["dotnet", LSHC_DLL, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                      env={**os.environ, **(env or {})})
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            with self._changed:
                self._lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def output(self) -> str:
        with self._changed:
            return "\n".join(self._lines)

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match:
        """The first line matching `pattern`, waiting for it; fails with the output when the process exits first."""
        expression = re.compile(pattern)
        until = time.monotonic() + timeout
        seen = 0
        with self._changed:
            while True:
                for line in self._lines[seen:]:
                    match = expression.search(line)
                    if match:
                        return match
                seen = len(self._lines)
                if self.popen.poll() is not None and seen == len(self._lines):
                    raise AssertionError(f"lshc {' '.join(self.args)} exited with {self.popen.returncode} before /{pattern}/:\n{self.output}")
                left = until - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"lshc {' '.join(self.args)} did not print /{pattern}/ within {timeout} s:\n{self.output}")
                self._changed.wait(min(left, 0.5))

    def kill(self) -> None:
        """SIGKILL: the process ends at once, as in a crash."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(30)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 30 s."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


def serve(store: str, env: Optional[Dict[str, str]] = None) -> "tuple[Process, str]":
    """`lshc serve` on `store` (created already) on free loopback ports; the process and its gRPC URL."""
    process = Process(["serve", "--store", store, "--listen", "127.0.0.1:0", "--grpc", "127.0.0.1:0"], env)
    return process, process.wait_for(r"^serving gRPC on (\S+)").group(1)


def silo(store: str, env: Optional[Dict[str, str]] = None) -> "tuple[Process, str]":
    """`lshc silo` on `store` on free loopback ports; the process and its URL."""
    process = Process(["silo", "--store", store, "--listen", "127.0.0.1:0", "--silo-port", "0"], env)
    return process, process.wait_for(r"silo listening on (\S+)").group(1)


class Postgres:
    """A throwaway PostgreSQL: initdb into a temporary directory, started on a free loopback port, deleted at stop."""

    def __init__(self) -> None:
        self.bin = next((d for d in ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin")
                         if os.path.exists(os.path.join(d, "pg_ctl"))), None) or os.path.dirname(shutil.which("pg_ctl") or "")
        if not self.bin:
            raise AssertionError("pg_ctl is missing: scripts/test.sh installs postgresql")
        self.directory = tempfile.mkdtemp(prefix="lshc-py-pg-")
        self.data = os.path.join(self.directory, "data")
        self._as_postgres = os.geteuid() == 0  # initdb refuses to run as root
        if self._as_postgres:
            shutil.chown(self.directory, "postgres")
        self._run("initdb", "-D", self.data, "-A", "trust", "-U", "lsh", "-E", "UTF8", "--locale=C")
        self.port = _free_port()
        self._run("pg_ctl", "start", "-w", "-D", self.data, "-l", os.path.join(self.directory, "log"),
                  "-o", f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off")
        self._databases = 0

    def _run(self, tool: str, *args: str) -> None:
        command = [os.path.join(self.bin, tool), *args]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise AssertionError(f"{tool} failed:\n{done.stdout}\n{done.stderr}")

    def new_store(self) -> str:
        """A store on a database of its own: postgres:CONNECTION."""
        self._databases += 1
        name = f"py{self._databases}"
        done = subprocess.run([os.path.join(self.bin, "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "lsh", name],
                              capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise AssertionError(f"createdb failed: {done.stderr}")
        return f"postgres:Host=127.0.0.1;Port={self.port};Username=lsh;Database={name}"

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "stop", "-D", self.data, "-m", "immediate", "-w")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
