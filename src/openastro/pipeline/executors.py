"""Where per-unit work runs: in this process, or on a dask.distributed cluster."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

from openastro.core.errors import ConfigError

CONNECT_TIMEOUT = 10  # seconds to reach a Dask scheduler


def _probe(address: str, timeout: float) -> None:
    """Raise OSError at once where no scheduler can listen at a tcp:// or tls:// address (refused, or a host
    name that does not resolve): dask's Client retries those until its timeout runs out. One TCP connection is
    opened and closed (the scheduler logs it as closed before the handshake); other schemes are left to Client."""
    import socket

    from distributed.comm import parse_address
    from distributed.comm.addressing import parse_host_port

    try:
        scheme, location = parse_address(address)
        host, port = parse_host_port(location)
    except ValueError:
        return
    if scheme not in ("tcp", "tls"):
        return
    try:
        connection = socket.create_connection((host, port), timeout=timeout)
    except (OverflowError, ValueError):  # not an address a socket takes (a port past 65535): Client's own error
        return
    connection.close()


class Executor(Protocol):
    """Maps a picklable function over tasks, yielding results as they finish (in any order)."""

    name: str

    def map(self, fn: Callable[[Any], Any], tasks: list[Any]) -> Iterator[Any]: ...

    def close(self) -> None: ...


class InProcessExecutor:
    """Runs tasks one after another in this process."""

    name = "in-process"

    def map(self, fn: Callable[[Any], Any], tasks: list[Any]) -> Iterator[Any]:
        for task in tasks:
            yield fn(task)

    def close(self) -> None:
        pass


class DaskExecutor:
    """Runs tasks on a dask.distributed cluster: a LocalCluster ('local') or a scheduler address."""

    def __init__(self, address: str, n_workers: int = 2) -> None:
        from dask.distributed import Client, LocalCluster

        self._cluster = None
        if address == "local":
            self._cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                         dashboard_address=None)
            self.client = Client(self._cluster)
        else:
            try:
                _probe(address, CONNECT_TIMEOUT)
                self.client = Client(address, timeout=f"{CONNECT_TIMEOUT}s")
            except OSError as exc:
                raise ConfigError(f"cannot reach the Dask scheduler at {address} ({exc}); start one with "
                                  "`dask scheduler` or pass --dask local") from None
        self.name = f"dask {self.client.scheduler.address}"

    def map(self, fn: Callable[[Any], Any], tasks: list[Any]) -> Iterator[Any]:
        from dask.distributed import as_completed

        if not tasks:
            return
        futures = self.client.map(fn, tasks, pure=False)
        for future in as_completed(futures):
            yield future.result()
            future.release()

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(dask: str, n_workers: int = 2) -> Executor:
    """An executor from the `run.dask` setting ("" = in-process)."""
    return DaskExecutor(dask, n_workers) if dask else InProcessExecutor()
