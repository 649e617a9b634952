"""Real PostgreSQL and MQTT brokers for the suite: the given ones, the local defaults, or throwaway.

Resolution (PRODUCT.md §9): `TAU_TEST_DATABASE_URL` / `TAU_TEST_MQTT_URL`, else the
services on the default local ports, else processes started here on free ports and
stopped at session end. `TAU_TEST_NO_LOCAL=1` skips the local defaults, which is how
the "no services running" machine is reproduced on a developer box.

`OwnedPostgres` and `OwnedBroker` are processes a single test owns (stop, start, kill
and restart on a fixed port) for the fault suites; `SecureMosquitto` and `Pki` give
the security suite a broker with a password file and a self-signed CA.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

LOCAL_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
LOCAL_MQTT = ("127.0.0.1", 1883)


class ServiceError(RuntimeError):
    """A throwaway service could not be started; the message carries its log tail."""


# --------------------------------------------------------------------------- helpers


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_until(
    predicate: Callable[[], bool],
    timeout: float,
    what: str,
    *,
    interval: float = 0.05,
    alive: Callable[[], str | None] | None = None,
) -> None:
    """Poll `predicate` until true; `alive` returns a reason to give up early (process died)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if alive is not None and (reason := alive()) is not None:
            raise ServiceError(f"{what}: {reason}")
        if time.monotonic() >= deadline:
            raise ServiceError(f"{what}: not ready after {timeout:.0f} s")
        time.sleep(interval)


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def redact_url(url: str) -> str:
    """The URL with any password replaced, for headers and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def pg_accepts(url: str, timeout: float = 1.0) -> bool:
    """True when `url` accepts a connection and answers `SELECT 1` within `timeout`."""

    async def probe() -> bool:
        try:
            conn = await asyncpg.connect(url, timeout=timeout)
        except (TimeoutError, OSError, asyncpg.PostgresError, ValueError):
            return False
        try:
            return await conn.fetchval("SELECT 1") == 1
        finally:
            await conn.close()

    # A worker thread keeps asyncio.run away from pytest-asyncio's loop in this thread.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, probe()).result(timeout + 5)


def mqtt_connack(
    host: str,
    port: int,
    timeout: float = 1.0,
    *,
    username: str | None = None,
    password: str | None = None,
) -> int | None:
    """Send an MQTT 3.1.1 CONNECT; the CONNACK return code (0 = accepted), None if no broker."""
    client_id = f"tau-probe-{os.getpid()}".encode()
    flags = 0x02  # clean session
    payload = len(client_id).to_bytes(2, "big") + client_id
    if username is not None:
        flags |= 0x80
        payload += len(username).to_bytes(2, "big") + username.encode()
    if password is not None:
        flags |= 0x40
        payload += len(password).to_bytes(2, "big") + password.encode()
    variable = b"\x00\x04MQTT\x04" + bytes([flags]) + (10).to_bytes(2, "big")
    body = variable + payload
    packet = b"\x10" + _remaining_length(len(body)) + body
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(packet)
            reply = b""
            while len(reply) < 4:
                chunk = sock.recv(4 - len(reply))
                if not chunk:
                    return None
                reply += chunk
            with contextlib.suppress(OSError):
                sock.sendall(b"\xe0\x00")  # DISCONNECT
    except OSError:
        return None
    if reply[0] != 0x20:
        return None
    return reply[3]


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _unprivileged_user() -> pwd.struct_passwd | None:
    """The account to run PostgreSQL as when we are root (it refuses to run as root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise ServiceError("running as root and neither a 'postgres' nor a 'nobody' user exists")


# ------------------------------------------------------------------------ PostgreSQL


def postgres_bin_dir() -> Path:
    """Directory holding initdb and postgres: PATH, Debian's layout, then the pgserver wheel."""
    found = shutil.which("initdb")
    if found and (Path(os.path.realpath(found)).parent / "postgres").exists():
        return Path(os.path.realpath(found)).parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(candidate) / "initdb").exists():
            return Path(candidate)
    from tau.embedded import pgserver_bin_dir
    from tau.errors import ConfigurationError

    with contextlib.suppress(ConfigurationError):  # pgserver is not installed
        return pgserver_bin_dir()
    raise ServiceError("no PostgreSQL found: install it, or `pip install pgserver`")


class OwnedPostgres:
    """A PostgreSQL cluster this process owns, on a fixed port for its whole life.

    `start()` initialises the cluster on first use; `stop()` is a fast shutdown,
    `kill()` a SIGKILL of the postmaster, `restart()` both halves. The URL stays valid
    across restarts. `close()` stops it and deletes the data directory.
    """

    def __init__(self, port: int | None = None, *, name: str = "tau-pg") -> None:
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix=f"{name}-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._bin = postgres_bin_dir()
        self._user = _unprivileged_user()
        self._proc: subprocess.Popen[bytes] | None = None
        if self._user is not None:
            self.root.chmod(0o755)
            os.chown(self.root, self._user.pw_uid, self._user.pw_gid)

    def _as_user(self) -> dict[str, object]:
        if self._user is None:
            return {}
        return {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}

    def _initdb(self) -> None:
        cmd = [str(self._bin / "initdb"), "-D", str(self.data), "-U", "postgres"]
        cmd += ["--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"]
        result = subprocess.run(
            cmd, capture_output=True, text=True, check=False, timeout=120, **self._as_user()
        )
        if result.returncode != 0:
            raise ServiceError(f"initdb failed:\n{result.stdout}\n{result.stderr}")

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 60) -> None:
        if self.running:
            return
        if not (self.data / "PG_VERSION").exists():
            self._initdb()
        cmd = [str(self._bin / "postgres"), "-D", str(self.data), "-p", str(self.port)]
        cmd += ["-h", "127.0.0.1", "-k", str(self.root)]
        # Durability is not under test when the cluster itself is stopped cleanly.
        for setting in ("fsync=off", "full_page_writes=off", "max_connections=300"):
            cmd += ["-c", setting]
        with self.log.open("ab") as log:
            self._proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **self._as_user()
            )
        wait_until(
            lambda: pg_accepts(self.url, timeout=1.0),
            timeout,
            f"PostgreSQL on port {self.port}",
            interval=0.1,
            alive=self._died,
        )

    def _died(self) -> str | None:
        if self._proc is not None and self._proc.poll() is not None:
            return f"exited with {self._proc.returncode}\n{tail(self.log)}"
        return None

    def stop(self, timeout: float = 30) -> None:
        """Fast shutdown (SIGINT): sessions are disconnected, data is kept."""
        self._signal(signal.SIGINT, timeout)

    def kill(self) -> None:
        """SIGKILL the postmaster and its backends, like a crashed host."""
        self._signal(signal.SIGKILL, 10)

    def restart(self, timeout: float = 60) -> None:
        self.stop()
        self.start(timeout)

    def _signal(self, sig: signal.Signals, timeout: float) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            if sig == signal.SIGKILL:
                os.killpg(proc.pid, sig)
            else:
                proc.send_signal(sig)  # the postmaster shuts its backends down itself
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> OwnedPostgres:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class PostgresChoice:
    source: str  # "env", "local" or "throwaway"
    url: str | None  # None until a throwaway cluster is started

    def describe(self) -> str:
        if self.source == "throwaway":
            return "throwaway cluster started by the suite (initdb/pg_ctl or pgserver binaries)"
        assert self.url is not None
        label = "TAU_TEST_DATABASE_URL" if self.source == "env" else "local default"
        return f"{redact_url(self.url)} ({label})"


def _local_allowed() -> bool:
    return os.environ.get("TAU_TEST_NO_LOCAL", "").lower() not in {"1", "true", "yes"}


def choose_postgres() -> PostgresChoice:
    if url := os.environ.get("TAU_TEST_DATABASE_URL"):
        return PostgresChoice("env", url)
    if _local_allowed() and pg_accepts(LOCAL_PG_URL, timeout=1.0):
        return PostgresChoice("local", LOCAL_PG_URL)
    return PostgresChoice("throwaway", None)


# --------------------------------------------------------------------------- brokers


@dataclass(frozen=True, slots=True)
class MqttServer:
    host: str
    port: int
    source: str = "env"  # "env", "local" or "throwaway"
    kind: str = "mqtt"  # "mosquitto", "amqtt" or "mqtt" when not ours

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def describe(self) -> str:
        label = {"env": "TAU_TEST_MQTT_URL", "local": "local default"}.get(self.source)
        return f"{self.url} ({label or f'throwaway {self.kind}'})"


def parse_mqtt_url(url: str) -> tuple[str, int]:
    parts = urlsplit(url if "://" in url else f"mqtt://{url}")
    if parts.scheme not in {"mqtt", "tcp"} or not parts.hostname:
        raise ValueError(f"TAU_TEST_MQTT_URL must look like mqtt://host:port, got {url!r}")
    return parts.hostname, parts.port or 1883


def broker_kind() -> str:
    return "mosquitto" if shutil.which("mosquitto") else "amqtt"


def _amqtt_config(
    port: int, ws_port: int | None = None, refuse_file: Path | None = None
) -> dict[str, object]:
    listeners: dict[str, object] = {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}}
    if ws_port is not None:
        listeners["ws"] = {"type": "ws", "bind": f"127.0.0.1:{ws_port}"}
    plugins: dict[str, object] = {
        "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
    }
    if refuse_file is not None:  # testkit/amqtt_acl.py
        plugins["testkit.amqtt_acl.RefuseSubscribe"] = {"refuse_file": str(refuse_file)}
    return {"listeners": listeners, "plugins": plugins}


class OwnedBroker:
    """An MQTT broker this process owns on a fixed port: mosquitto if on PATH, else amqtt.

    `extra_config` lines are appended to the mosquitto configuration (ignored for amqtt).
    Retained messages do not survive `stop()`: persistence is off, as on a fresh broker.
    `refuse_file` (amqtt only): a JSON list of topic filters the broker refuses to
    subscribe to (SUBACK 0x80), read at every SUBSCRIBE (testkit/amqtt_acl.py).
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        kind: str | None = None,
        config: str | None = None,
        name: str = "tau-mqtt",
        ws_port: int | None = None,
        refuse_file: Path | None = None,
    ) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.kind = kind or broker_kind()
        self.root = Path(tempfile.mkdtemp(prefix=f"{name}-"))
        self.root.chmod(0o755)  # mosquitto drops root privileges before reading some files
        self.log = self.root / "broker.log"
        self._config = config
        self.ws_port = ws_port  # amqtt only: a WebSocket listener beside the TCP one
        self.refuse_file = refuse_file
        if refuse_file is not None and self.kind != "amqtt":
            raise ValueError("refuse_file needs kind='amqtt' (testkit/amqtt_acl.py)")
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def server(self) -> MqttServer:
        return MqttServer(self.host, self.port, "throwaway", self.kind)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _command(self) -> list[str]:
        if self.kind == "mosquitto":
            conf = self.root / "mosquitto.conf"
            default = f"listener {self.port} {self.host}\nallow_anonymous true\n"
            conf.write_text(f"{self._config or default}\npersistence false\nlog_dest stderr\n")
            conf.chmod(0o644)
            return ["mosquitto", "-c", str(conf)]
        conf = self.root / "amqtt.yaml"
        config = _amqtt_config(self.port, self.ws_port, self.refuse_file)
        conf.write_text(json.dumps(config))  # JSON is YAML
        return [sys.executable, "-m", "amqtt.scripts.broker_script", "-c", str(conf)]

    def _environment(self) -> dict[str, str]:
        """amqtt imports its plugins by name: testkit's (amqtt_acl) from the repository root."""
        env = dict(os.environ)
        if self.kind == "amqtt":
            root = str(Path(__file__).resolve().parents[1])
            env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        return env

    def start(self, timeout: float = 20) -> None:
        if self.running:
            return
        with self.log.open("ab") as log:
            self._proc = subprocess.Popen(
                self._command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=self._environment(),
            )
        wait_until(
            lambda: mqtt_connack(self.host, self.port, 0.5) is not None,
            timeout,
            f"{self.kind} on port {self.port}",
            alive=self._died,
        )

    def _died(self) -> str | None:
        if self._proc is not None and self._proc.poll() is not None:
            return f"exited with {self._proc.returncode}\n{tail(self.log)}"
        return None

    def stop(self, timeout: float = 10) -> None:
        self._signal(signal.SIGTERM, timeout)

    def kill(self) -> None:
        self._signal(signal.SIGKILL, 10)

    def restart(self, timeout: float = 20) -> None:
        self.stop()
        self.start(timeout)

    def freeze(self) -> None:
        """SIGSTOP: the broker stops answering, its TCP connections stay open."""
        if self._proc is not None:
            os.killpg(self._proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        if self._proc is not None:
            os.killpg(self._proc.pid, signal.SIGCONT)

    def _signal(self, sig: signal.Signals, timeout: float) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> OwnedBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def choose_mqtt() -> MqttServer | None:
    """The broker given or running locally; None means a throwaway one must be started."""
    if url := os.environ.get("TAU_TEST_MQTT_URL"):
        host, port = parse_mqtt_url(url)
        return MqttServer(host, port, "env")
    if _local_allowed() and mqtt_connack(*LOCAL_MQTT, timeout=1.0) == 0:
        return MqttServer(*LOCAL_MQTT, source="local")
    return None


# ---------------------------------------------------------------- security: PKI, auth


def require_mosquitto() -> None:
    import pytest

    if not (shutil.which("mosquitto") and shutil.which("mosquitto_passwd")):
        pytest.skip("mosquitto and mosquitto_passwd are needed for the broker security tests")
    if not shutil.which("openssl"):
        pytest.skip("the openssl CLI is needed to generate the test CA")


@dataclass(frozen=True, slots=True)
class CertPair:
    cert: Path
    key: Path


class Pki:
    """A throwaway CA (EC P-256, the `openssl` CLI) that issues server and client certificates."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o755)  # mosquitto reads these after dropping root privileges
        self.ca = CertPair(self.dir / "ca.crt", self.dir / "ca.key")
        self._openssl(
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(self.ca.key), "-out", str(self.ca.cert), "-days", "2",
            "-subj", "/CN=Tau Test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            "-addext", "subjectKeyIdentifier=hash",
        )  # fmt: skip
        self.ca.cert.chmod(0o644)

    def _openssl(self, *args: str) -> None:
        result = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ServiceError(f"openssl {args[0]} failed: {result.stderr}")

    def issue(self, name: str, *, sans: tuple[str, ...] = (), client: bool = False) -> CertPair:
        """A certificate for CN `name`; `sans` like ("DNS:localhost", "IP:127.0.0.1")."""
        pair = CertPair(self.dir / f"{name}.crt", self.dir / f"{name}.key")
        csr = self.dir / f"{name}.csr"
        ext = self.dir / f"{name}.ext"
        lines = [
            "basicConstraints=critical,CA:FALSE",
            "keyUsage=critical,digitalSignature,keyEncipherment",
            f"extendedKeyUsage={'clientAuth' if client else 'serverAuth'}",
            "subjectKeyIdentifier=hash",
            "authorityKeyIdentifier=keyid,issuer",
        ]
        if sans:
            lines.append("subjectAltName=" + ",".join(sans))
        ext.write_text("\n".join(lines) + "\n")
        self._openssl(
            "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(pair.key), "-out", str(csr), "-subj", f"/CN={name}",
        )  # fmt: skip
        self._openssl(
            "x509", "-req", "-in", str(csr), "-CA", str(self.ca.cert), "-CAkey", str(self.ca.key),
            "-CAcreateserial", "-out", str(pair.cert), "-days", "2", "-extfile", str(ext),
        )  # fmt: skip
        for path in (pair.cert, pair.key):
            path.chmod(0o644)  # readable by mosquitto after it drops root privileges
        return pair


class SecureMosquitto(OwnedBroker):
    """Mosquitto with a password file on `port` and, with a `pki`, a TLS listener on `tls_port`.

    `require_certificate=True` makes the TLS listener demand a client certificate
    signed by the test CA. Anonymous access is off on every listener.
    """

    def __init__(
        self,
        users: Mapping[str, str],
        *,
        pki: Pki | None = None,
        server_cert: CertPair | None = None,
        require_certificate: bool = False,
    ) -> None:
        super().__init__(kind="mosquitto", name="tau-mqtt-secure")
        self.tls_port: int | None = free_port() if pki else None
        passwd = self.root / "passwd"
        for i, (user, password) in enumerate(users.items()):
            flags = ["-b", "-c"] if i == 0 else ["-b"]
            subprocess.run(["mosquitto_passwd", *flags, str(passwd), user, password], check=True)
        passwd.chmod(0o644)
        lines = ["per_listener_settings false", "allow_anonymous false", f"password_file {passwd}"]
        lines.append(f"listener {self.port} {self.host}")
        if pki is not None:
            cert = server_cert or pki.issue("localhost", sans=("DNS:localhost", "IP:127.0.0.1"))
            lines += [
                f"listener {self.tls_port} {self.host}",
                f"cafile {pki.ca.cert}",
                f"certfile {cert.cert}",
                f"keyfile {cert.key}",
                f"require_certificate {'true' if require_certificate else 'false'}",
            ]
        self._config = "\n".join(lines) + "\n"


# ------------------------------------------------------------------- embedded PostgreSQL


def embedded_template(root: Path) -> Path:
    """An initialised, never started data directory for the embedded PostgreSQL (pgserver),
    made once with pgserver's own `initdb` arguments; `copy_embedded_template` gives each
    test a copy, as if `tau run --demo` had just initialised it (database `tau` not yet
    created: Tau's own first-start path still runs)."""
    from tau.embedded import pgserver_bin_dir

    pgdata = root / "postgres"
    cmd = [str(pgserver_bin_dir() / "initdb"), "-D", str(pgdata), "-U", "postgres"]
    cmd += ["--auth=trust", "--auth-local=trust", "--encoding=utf8", "--no-sync"]
    owner = None
    if os.geteuid() == 0:  # pgserver runs PostgreSQL as its `pgserver` account
        subprocess.run(["useradd", "--system", "pgserver"], capture_output=True, check=False)
        owner = pwd.getpwnam("pgserver")
        pgdata.mkdir(parents=True)
        os.chown(pgdata, owner.pw_uid, owner.pw_gid)
        for parent in pgdata.parents:  # traversable for it, as pgserver itself makes them
            parent.chmod(parent.stat().st_mode | 0o011)
    user = {} if owner is None else {"user": owner.pw_uid, "group": owner.pw_gid}
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False, **user)
    if result.returncode != 0:
        raise ServiceError(f"initdb of the embedded template failed:\n{result.stderr}")
    return pgdata


def copy_embedded_template(template: Path, data_dir: Path) -> Path:
    """`data_dir/postgres` = a copy of the template (ownership kept); returns `data_dir`."""
    data_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", str(template), str(data_dir / "postgres")], check=True)
    return data_dir
