"""service_names and enrich: equal to the scalar answers and to `portreg enrich`, for every
kind of column, and never a crash on bad values."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import portreg
from conftest import cli

REGISTRY = portreg.Registry.embedded()
PROTOCOLS = ["tcp", "udp", "sctp", "dccp"]
ROWS = 1_000_000


@pytest.fixture(scope="module")
def flows() -> Tuple[List[Optional[int]], List[Optional[str]]]:
    rng = random.Random(6335)
    ports: List[Optional[int]] = [
        None if rng.random() < 0.01 else rng.choice([rng.randrange(1024), rng.randrange(65536)])
        for _ in range(ROWS)
    ]
    transports: List[Optional[str]] = [
        rng.choice(["tcp", "udp", "TCP", "6", "17", "sctp", "icmp", None]) for _ in range(ROWS)
    ]
    return ports, transports


def expected_names(ports: List[Optional[int]], transports: List[Optional[str]]) -> List[Optional[str]]:
    slot = {"tcp": "tcp", "udp": "udp", "sctp": "sctp", "dccp": "dccp", "6": "tcp", "17": "udp",
            "132": "sctp", "33": "dccp"}
    names: Dict[Optional[str], List[Optional[str]]] = {}
    for protocol in [*PROTOCOLS, None]:
        column: List[Optional[str]] = []
        for port in range(65536):
            try:
                column.append(REGISTRY.getservbyport(port, protocol))
            except OSError:
                column.append(None)
        names[protocol] = column
    out: List[Optional[str]] = []
    for port, transport in zip(ports, transports):
        if port is None:
            out.append(None)
        elif transport is None:
            out.append(names[None][port])
        elif transport.lower() in slot:
            out.append(names[slot[transport.lower()]][port])
        else:
            out.append(None)
    return out


def test_a_million_rows_of_every_kind(flows: Tuple[List[Optional[int]], List[Optional[str]]]) -> None:
    ports, transports = flows
    expected = expected_names(ports, transports)
    arrow_ports = pa.array(ports, pa.int64())
    arrow_transports = pa.array(transports, pa.string())
    kinds = {
        "pyarrow": (arrow_ports, arrow_transports),
        "chunked": (pa.chunked_array([arrow_ports[:300_001], arrow_ports[300_001:]]),
                    pa.chunked_array([arrow_transports[:700_000], arrow_transports[700_000:]])),
        "polars": (pl.Series("p", ports, dtype=pl.Int32), pl.Series("t", transports)),
        "pandas": (pd.Series(ports, dtype="Int64"), pd.Series(transports)),
        "pandas-float": (pd.Series([float("nan") if p is None else p for p in ports]),
                         pd.Series(transports)),
        "numpy": (np.array([-1 if p is None else p for p in ports], dtype=np.int32),
                  np.array(["" if t is None else t for t in transports], dtype=object)),
        "list": (ports, transports),
    }
    # numpy has no nulls: a missing port is -1 (null), a missing transport "" (none).
    numpy_expected = [
        None if t is None else name for name, t in zip(expected, transports)
    ]
    for kind, (p, t) in kinds.items():
        got = REGISTRY.service_names(p, t).to_pylist()
        assert got == (numpy_expected if kind == "numpy" else expected), kind
    # enrich on the same million rows, in each kind of frame: the scalar answers again.
    columns = {"id.resp_p": arrow_ports, "proto": arrow_transports}
    table = pa.table(columns)
    frames = {"pyarrow": table, "polars": pl.from_arrow(table), "pandas": table.to_pandas()}
    for kind, frame in frames.items():
        enriched = REGISTRY.enrich(frame, add=("name", "range_class"))
        names = enriched["port_name"]
        listed = names.to_list() if kind == "polars" else (
            names.tolist() if kind == "pandas" else names.to_pylist())
        assert listed == expected, kind


@pytest.mark.parametrize("dtype", [np.int16, np.int32, np.int64, np.uint16, np.uint32,
                                   np.uint64, np.float32, np.float64])
def test_numpy_ports_of_every_type(dtype: type) -> None:
    ports = np.array([0, 22, 53, 443, 1023, 8443, 32000], dtype=dtype)
    got = REGISTRY.service_names(ports, "udp").to_pylist()
    want = []
    for port in ports.tolist():
        try:
            want.append(REGISTRY.getservbyport(int(port), "udp"))
        except OSError:
            want.append(None)
    assert got == want


def test_bad_values_give_null_or_a_named_error() -> None:
    got = REGISTRY.service_names(pa.array([-1, 65536, 2**40, 22]), "tcp").to_pylist()
    assert got == [None, None, None, "ssh"]
    assert REGISTRY.service_names(np.array([-5, 70000, 22], dtype=np.int64), "tcp").to_pylist() \
        == [None, None, "ssh"]
    assert REGISTRY.service_names(pa.array(["22", "", None, "99999"]), "tcp").to_pylist() \
        == ["ssh", None, None, None]
    with pytest.raises(ValueError, match=r"column 'ports'|column \"ports\", row 2"):
        REGISTRY.service_names(pa.array(["22", "80", "http"]))
    frame = pd.DataFrame({"id.resp_p": ["22", "x"], "proto": ["tcp", "tcp"]})
    with pytest.raises(ValueError, match=r"id\.resp_p.*row 1"):
        REGISTRY.enrich(frame)
    with pytest.raises(ValueError):
        REGISTRY.service_names(pa.array([b"22"], pa.binary()))
    with pytest.raises(ValueError, match="column 'ports'"):
        REGISTRY.service_names([22, "x", 1.5])
    with pytest.raises(ValueError, match="no column"):
        REGISTRY.enrich(pd.DataFrame({"port": [22]}))
    with pytest.raises(TypeError):
        REGISTRY.enrich({"id.resp_p": [22]})
    with pytest.raises(ValueError):
        REGISTRY.enrich(pd.DataFrame({"id.resp_p": [22]}), add=("nope",))


def test_transport_forms() -> None:
    ports = [22, 22, 22, 22, 53, 53]
    transports = pa.array(["tcp", "TCP", "6", "icmp", "udp", "17"])
    assert REGISTRY.service_names(ports, transports).to_pylist() == \
        ["ssh", "ssh", "ssh", None, "domain", "domain"]
    assert REGISTRY.service_names(ports, pa.array([6, 6, 6, 1, 17, 17], pa.uint8())).to_pylist() \
        == ["ssh", "ssh", "ssh", None, "domain", "domain"]
    assert REGISTRY.service_names([22], "icmp").to_pylist() == [None]


def zeek_conn_log(path: Path, rows: int) -> None:
    rng = random.Random(42)
    lines = [
        "#separator \\x09", "#set_separator\t,", "#empty_field\t(empty)", "#unset_field\t-",
        "#path\tconn", "#open\t2026-12-06-00-00-00",
        "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice",
        "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring",
    ]
    for row in range(rows):
        port = rng.choice([22, 53, 80, 443, 123, 5353, 8443, rng.randrange(65536)])
        proto = rng.choice(["tcp", "udp", "icmp"])
        lines.append(f"{1700000000 + row}.0\tC{row}\t10.0.0.1\t{rng.randrange(1024, 65536)}"
                     f"\t192.0.2.1\t{port}\t{proto}\t-")
    lines.append("#close\t2026-12-06-00-00-01")
    path.write_text("\n".join(lines) + "\n")


def read_zeek(path: Path) -> pd.DataFrame:
    fields: List[str] = []
    with path.open() as log:
        for line in log:
            if line.startswith("#fields"):
                fields = line.rstrip("\n").split("\t")[1:]
                break
    return pd.read_csv(path, sep="\t", comment="#", names=fields, dtype=str,
                       keep_default_na=False)


def test_a_zeek_conn_log_enriched_in_pandas_matches_portreg_enrich(tmp_path: Path) -> None:
    log = tmp_path / "conn.log"
    zeek_conn_log(log, 20_000)
    add = ["name", "description", "status", "range_class", "source"]
    out = cli(["enrich", str(log), "--add", ",".join(add), "-o", str(tmp_path / "out.log")],
              tmp_path)
    assert out.returncode == 0, out.stderr
    theirs = read_zeek(tmp_path / "out.log")
    frame = read_zeek(log)
    frame["id.resp_p"] = frame["id.resp_p"].astype("int64")
    mine = portreg.enrich(frame, add=add)
    for column in ["port_name", "port_description", "port_status", "port_range_class",
                   "port_source"]:
        # Zeek writes a missing value as "-".
        expected = [None if v == "-" else v for v in theirs[column]]
        assert mine[column].tolist() == expected, column
    # The same columns in polars and pyarrow.
    for kind in (pl.from_pandas(frame), pa.Table.from_pandas(frame)):
        other = portreg.enrich(kind, add=add)
        names = other["port_name"]
        listed = names.to_list() if isinstance(names, pl.Series) else names.to_pylist()
        assert listed == mine["port_name"].tolist()
