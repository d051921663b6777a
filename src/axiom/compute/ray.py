"""Ray executor: tasks and an actor pool on a local Ray runtime or a Ray cluster.

URLs (``AXIOM_EXECUTOR``):

* ``ray://local`` (or ``ray://``) — start a Ray runtime inside this process with
  ``settings.workers`` CPUs, or join the one already running in it. Quiet and quick:
  no dashboard, worker output not copied to the driver. Ray's processes listen on every
  interface; Ray protects a runtime it starts with a token of its own (``~/.ray``).
* ``ray://auto`` — join the cluster that ``ray start`` left on this machine.
* ``ray://host[:port]`` — a remote cluster through Ray Client (port 10001 by default;
  see ``deploy/ray/README.md``). Its nodes need the ``axiom`` package installed, in the
  same Python and Ray versions, because tasks and actors run Axiom's code there.

:meth:`RayExecutor.map` runs one task per item (1 CPU each, so CPU-bound work runs
``workers`` wide locally and as wide as the cluster's CPUs on a cluster);
:meth:`RayExecutor.map_workers` runs an :class:`~axiom.compute.ray_pool.ActorPool` of
``settings.agent_actors`` actors that take no CPU, for I/O-bound stateful work. Retries,
restarts and the in-flight depth are documented in :mod:`axiom.compute.ray_pool`.

One Ray runtime serves a process: executors in the same process share it, and the one
Axiom started is shut down when the last executor using it is closed. A runtime started
by someone else (``ray.init`` before Axiom) is used and never shut down.

Usage::

    with RayExecutor.from_url("ray://local", settings) as ex:
        rows = ex.map(load_batch, batches, on_done=bar.advance)
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

# Ray replicates a `uv run` driver's environment onto its workers (a runtime env that
# re-runs `uv run` per worker) when it finds `uv run` among the process's ancestors. Axiom
# is installed where its workers run, so that only costs start-up time and needs the
# network; the flag is read when ray is imported, hence here.
os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")

try:
    import ray
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the installed extras
    from axiom.errors import MissingExtraError

    raise MissingExtraError("the Ray executor", "ray") from exc

from axiom.compute.base import Executor, Worker
from axiom.compute.ray_pool import ActorPool, run_tasks
from axiom.errors import BackendError, BackendUnavailableError, ConfigError

if TYPE_CHECKING:
    from axiom.settings import Settings

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger(__name__)

#: Port of the Ray Client server on a cluster's head node.
CLIENT_PORT = 10001
#: Seconds to wait for a TCP connection to a cluster before calling it unreachable.
CONNECT_TIMEOUT_S = 5.0
#: Ray namespace of Axiom's jobs (actors are looked up within it).
NAMESPACE = "axiom"
#: Environment variables a cluster job's workers get from the driver (see ``_job_env``).
FORWARDED_ENV = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL")


@dataclass(frozen=True, slots=True)
class RayTarget:
    """Where a ``ray://`` URL points: a local runtime, ``auto``, or a Ray Client address."""

    kind: Literal["local", "auto", "client"]
    host: str = ""
    port: int = 0

    @property
    def address(self) -> str:
        """The ``address`` argument of ``ray.init`` for this target."""
        if self.kind != "client":
            return self.kind
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ray://{host}:{self.port}"


def parse_ray_url(url: str) -> RayTarget:
    """The target of ``ray://local|auto|host[:port]``; a ConfigError for anything else."""
    scheme, sep, rest = url.strip().partition("://")
    if scheme.lower() != "ray":
        raise ConfigError(f"not a Ray executor URL: '{url}' (ray://local or ray://host:port)")
    rest = rest.strip().rstrip("/") if sep else ""
    if rest.lower() in ("", "local"):
        return RayTarget("local")
    if rest.lower() == "auto":
        return RayTarget("auto")
    parts = urllib.parse.urlsplit(f"ray://{rest}")
    try:
        port = parts.port or CLIENT_PORT
    except ValueError as exc:
        raise ConfigError(f"bad port in Ray executor URL '{url}'") from exc
    if not parts.hostname or parts.path or parts.query or parts.username:
        raise ConfigError(f"bad Ray executor URL '{url}': expected ray://host:port")
    return RayTarget("client", parts.hostname, port)


def _probe(host: str, port: int, url: str) -> None:
    """Fail fast when nothing listens: Ray's own connect retries for up to 30 s or more."""
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise BackendUnavailableError(
            f"no Ray cluster at {url} ({host}:{port}: {reason}); start one "
            "(deploy/ray/README.md) or use AXIOM_EXECUTOR=ray://local"
        ) from exc


def _auto_address(url: str) -> str:
    """The GCS address ``ray://auto`` means, checked to answer (a stale one hangs Ray)."""
    try:
        from ray._private.services import canonicalize_bootstrap_address_or_die
    except ImportError:  # pragma: no cover - private API moved: let ray.init resolve it
        return "auto"
    try:
        address = str(canonicalize_bootstrap_address_or_die("auto"))
    except ConnectionError as exc:
        raise BackendUnavailableError(
            f"no Ray cluster for {url}: none was started on this machine (ray start --head)"
        ) from exc
    host, _, port = address.rpartition(":")
    _probe(host.strip("[]"), int(port), url)
    return address


@dataclass
class _Runtime:
    url: str
    owned: bool
    users: int = 0


_LOCK = threading.Lock()
_RUNTIME: _Runtime | None = None


def _acquire(url: str, target: RayTarget, workers: int) -> None:
    """Start, connect or join the process's Ray runtime for ``url``; count one user."""
    global _RUNTIME
    with _LOCK:
        if _RUNTIME is not None and not ray.is_initialized():
            _RUNTIME = None  # shut down behind our back (ray.shutdown() in a test)
        if _RUNTIME is None and ray.is_initialized():
            _RUNTIME = _Runtime(url, owned=False)  # someone else's ray.init: use it as is
        if _RUNTIME is not None:
            if _RUNTIME.owned and parse_ray_url(_RUNTIME.url) != target:
                raise ConfigError(
                    f"this process is already connected to Ray by {_RUNTIME.url}; "
                    f"one Ray runtime per process, so {url} cannot be used as well"
                )
            _RUNTIME.users += 1
            return
        _connect(url, target, workers)
        _RUNTIME = _Runtime(url, owned=True, users=1)


def _job_env() -> dict[str, str]:
    """The driver's variables that a cluster's workers need too (:data:`FORWARDED_ENV`).

    Actors get their settings from the driver, but the Anthropic SDK reads its key and
    endpoint from the environment of the process it runs in: on a cluster, a node's own
    environment, not the driver's. A local runtime's workers inherit the driver's anyway.
    """
    return {name: os.environ[name] for name in FORWARDED_ENV if os.environ.get(name)}


def _connect(url: str, target: RayTarget, workers: int) -> None:
    common: dict[str, Any] = {
        "log_to_driver": False,
        "logging_level": logging.WARNING,
        "namespace": NAMESPACE,
    }
    if target.kind == "local":
        ray.init(
            address="local",
            num_cpus=workers,
            include_dashboard=False,
            ignore_reinit_error=True,
            **common,
        )
        return
    address = target.address if target.kind == "client" else _auto_address(url)
    try:
        ray.init(address, runtime_env={"env_vars": _job_env()}, **common)
    except (ConnectionError, TimeoutError) as exc:
        hint = ""
        if target.kind == "client" and os.environ.get("RAY_AUTH_MODE", "").lower() != "token":
            # A token-protected cluster refuses the handshake, which Ray reports as a timeout.
            hint = " (if the cluster uses token auth, set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN)"
        raise BackendUnavailableError(f"Ray cluster at {url} did not answer: {exc}{hint}") from exc
    except (RuntimeError, ray.exceptions.RayError) as exc:
        # A version mismatch, a missing auth token, a refused handshake.
        raise BackendError(f"cannot use the Ray cluster at {url}: {exc}") from exc


def _release() -> None:
    """One user fewer; shut the runtime down when it was ours and nobody uses it."""
    global _RUNTIME
    with _LOCK:
        if _RUNTIME is None:
            return
        _RUNTIME.users -= 1
        if _RUNTIME.users > 0:
            return
        owned, _RUNTIME = _RUNTIME.owned, None
        if owned and ray.is_initialized():
            ray.shutdown()


class RayExecutor(Executor):
    """Runs items as Ray tasks, or on a pool of Ray actors that hold their own clients.

    Building one connects (see the module doc); :meth:`close` kills the pool and lets the
    runtime go. A cluster that cannot be reached raises :class:`BackendUnavailableError`
    naming the URL, within :data:`CONNECT_TIMEOUT_S` when nothing listens (Ray Client's
    own handshake gives up after ~30 s when something else does).
    """

    def __init__(
        self,
        url: str = "ray://local",
        *,
        workers: int = 2,
        actors: int = 10,
        actor_concurrency: int = 1,
    ) -> None:
        if workers < 1 or actors < 1 or actor_concurrency < 1:
            raise ConfigError(
                "Ray executor needs workers, agent_actors and agent_actor_concurrency >= 1"
            )
        self.url = url
        self.workers = workers
        self.actors = actors
        self.actor_concurrency = actor_concurrency
        self.target = parse_ray_url(url)
        self._pool: ActorPool | None = None
        self._pool_lock = threading.Lock()
        self._open = False
        if self.target.kind == "client":
            _probe(self.target.host, self.target.port, url)
        _acquire(url, self.target, workers)
        self._open = True

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> RayExecutor:
        """Called by the registry for ``AXIOM_EXECUTOR=ray://…``.

        Task width (local CPUs) is ``settings.workers``; the actor pool has
        ``settings.agent_actors`` actors running ``settings.agent_actor_concurrency`` items
        each at once.
        """
        return cls(
            url,
            workers=settings.workers,
            actors=settings.agent_actors,
            actor_concurrency=settings.agent_actor_concurrency,
        )

    def _check_open(self) -> None:
        if not self._open:
            raise BackendError(f"the Ray executor {self.url} is closed")

    def map(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        *,
        on_done: Callable[[int], None] | None = None,
    ) -> list[R]:
        """See :meth:`Executor.map`: one Ray task per item, 1 CPU each.

        ``fn`` and the items must be picklable (``fn`` by reference, from an installed
        module, when the runtime is a cluster). A worker process that dies is replaced and
        the item re-run (:data:`~axiom.compute.ray_pool.TASK_MAX_RETRIES` times); an
        exception raised by ``fn`` is re-raised here with its own type.
        """
        self._check_open()
        if not items:
            return []
        return run_tasks(fn, items, num_cpus=1, on_done=on_done)

    def map_workers(
        self,
        factory: Callable[[], Worker[T, R]],
        items: Sequence[T],
        *,
        on_done: Callable[[int], None] | None = None,
    ) -> list[R]:
        """See :meth:`Executor.map_workers`: the items run on ``actors`` Ray actors.

        Each actor calls ``factory()`` once per call, in its own process, on its first item
        (again after a restart) and ``close()`` on the worker at the end of the call. The
        actor processes are kept for the next call and killed by :meth:`close`.
        """
        self._check_open()
        if not items:
            return []
        with self._pool_lock:
            if self._pool is None:
                self._pool = ActorPool(self.actors, concurrency=self.actor_concurrency)
            pool = self._pool
        return pool.map(factory, items, on_done=on_done)

    def close(self) -> None:
        """Kill the actor pool and release the runtime; safe to call twice.

        The runtime is shut down only if Axiom started it and no other executor in the
        process still uses it; a connection to a cluster is closed, the cluster stays up.
        """
        if not self._open:
            return
        self._open = False
        with self._pool_lock:
            pool, self._pool = self._pool, None
        try:
            if pool is not None and ray.is_initialized():
                pool.close()
        finally:
            _release()
