"""Figures for the README: `service_names` on 10 million (port, transport) pairs against a
Python loop over socket.getservbyport, a pandas `map` over a dict built from the
registry, and DuckDB joining portreg's Parquet export; `import portreg` time.

Usage: python bench.py [ROWS] [PARQUET]   (PARQUET: `portreg convert --to parquet` output;
the DuckDB figure is left out without it or without the duckdb package)
"""

from __future__ import annotations

import random
import socket
import subprocess
import sys
import time
from typing import Callable, List, Optional

import numpy as np
import pandas as pd
import pyarrow as pa

import portreg


def best(runs: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000
    parquet: Optional[str] = sys.argv[2] if len(sys.argv) > 2 else None
    rng = np.random.default_rng(6335)
    ports = np.where(rng.random(rows) < 0.5, rng.integers(0, 1024, rows),
                     rng.integers(0, 65536, rows)).astype(np.int64)
    protocols = np.where(rng.random(rows) < 0.7, "tcp", "udp")
    transports = pa.array(protocols).dictionary_encode()
    arrow_ports = pa.array(ports)
    portreg.service_names(arrow_ports[:10], transports[:10])  # the table, once
    figures: List[str] = []

    seconds = best(3, lambda: portreg.service_names(arrow_ports, transports))
    rate = rows / seconds
    figures.append(f"service_names: {seconds * 1000:.0f} ms, {rate / 1e6:.1f} M pairs/s")

    # socket.getservbyport: a sample, scaled (the whole loop takes minutes).
    sample = min(rows, 200_000)
    pairs = list(zip(ports[:sample].tolist(), transports[:sample].to_pylist()))

    def loop() -> None:
        for port, transport in pairs:
            try:
                socket.getservbyport(port, transport)
            except OSError:
                pass

    socket_seconds = best(1, loop) * rows / sample
    figures.append(f"socket.getservbyport loop: {socket_seconds:.1f} s (from {sample:,} rows), "
                   f"{socket_seconds / seconds:.0f}x slower")

    names = {}
    for transport in ("tcp", "udp"):
        column = portreg.service_names(pa.array(range(65536)), transport).to_pylist()
        names.update({(port, transport): name for port, name in enumerate(column) if name})
    keys = pd.Series(list(zip(ports.tolist(), transports.to_pylist())))
    map_seconds = best(1, lambda: keys.map(names))
    figures.append(f"pandas map over a dict: {map_seconds:.2f} s, "
                   f"{map_seconds / seconds:.0f}x slower")

    if parquet:
        try:
            import duckdb
        except ImportError:
            duckdb = None
        if duckdb is not None:
            flows = pa.table({"port": arrow_ports, "proto": pa.array(protocols)})
            db = duckdb.connect()
            db.register("flows", flows)
            query = (
                "SELECT f.port, r.name FROM flows f LEFT JOIN "
                f"(SELECT * FROM read_parquet('{parquet}') WHERE name IS NOT NULL) r "
                "ON f.port BETWEEN r.port_low AND r.port_high AND r.transport = f.proto"
            )
            duck_seconds = best(1, lambda: db.execute(query).to_arrow_table())
            figures.append(f"DuckDB join on the Parquet export: {duck_seconds:.2f} s, "
                           f"{duck_seconds / seconds:.0f}x slower")

    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import portreg"], check=True)
    whole = time.perf_counter() - start
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    bare = time.perf_counter() - start
    figures.append(f"import portreg: {(whole - bare) * 1000:.0f} ms over a bare interpreter")
    print(f"{rows:,} pairs")
    for line in figures:
        print(" -", line)


if __name__ == "__main__":
    main()
