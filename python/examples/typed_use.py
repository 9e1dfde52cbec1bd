"""The whole public API, typed: `mypy --strict` checks this file in CI."""

from __future__ import annotations

import datetime
from typing import Any, Dict, List, Optional

import pandas as pd
import pyarrow as pa

import portreg
from portreg import PortRange, Record, Registry


def describe(record: Record) -> str:
    ports: Optional[PortRange] = record.ports
    registered: Optional[datetime.date] = record.registered
    where = "-" if ports is None else f"{ports.low}-{ports.high}"
    return f"{record.name} {where} {record.status} {registered} {len(record.references)}"


def main() -> None:
    records: List[Record] = portreg.lookup("22/tcp")
    print([describe(r) for r in records], records[0].to_dict()["name"])
    print([r.name for r in portreg.search("postgres", limit=3)])
    check: Dict[str, Any] = portreg.check_name("my-new-service")
    spans: List[PortRange] = portreg.free(range="user", count=1, transport="tcp")
    about: Dict[str, Any] = portreg.about()
    name: str = portreg.getservbyport(443, "tcp")
    port: int = portreg.getservbyname("ldaps")
    print(check["valid"], spans, about["records"], name, port)
    registry: Registry = Registry.embedded()
    print(len(registry), registry.origin, len(Registry.default().records()))
    names: "pa.Array[Any]" = portreg.service_names(pa.array([22, 53, 8443]), "udp")
    frame = pd.DataFrame({"id.resp_p": [22, 443], "proto": ["tcp", "tcp"]})
    enriched: pd.DataFrame = portreg.enrich(frame, add=("name", "status"))
    print(names.to_pylist(), enriched["port_name"].tolist())


if __name__ == "__main__":
    main()
