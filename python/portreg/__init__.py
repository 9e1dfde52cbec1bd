"""portreg: what a port or a service name is, from IANA's port-number registry.

The registry is built in (no file, no network); answers come from portreg's Rust
library, the same as the ``portreg`` command's::

    >>> import portreg
    >>> portreg.lookup("22/tcp")[0].name
    'ssh'
    >>> portreg.getservbyname("https", "tcp")
    443

Columns of ports (pyarrow, polars, pandas, numpy, lists) are answered at Arrow speed
with :func:`service_names` and :func:`enrich`.
"""

from __future__ import annotations

import datetime
import json
import threading
from dataclasses import dataclass, field
from os import PathLike
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple, Union

from . import _portreg

__all__ = [
    "PortRange",
    "Record",
    "Reference",
    "Registry",
    "about",
    "check_name",
    "enrich",
    "explain_port",
    "free",
    "getservbyname",
    "getservbyport",
    "lookup",
    "search",
    "service_names",
    "stable_port",
]

__version__: str = _portreg.__version__

#: The columns :func:`enrich` can add, by their short names.
COLUMNS: Tuple[str, ...] = ("name", "description", "status", "range_class", "source")

#: The named ranges of ``free``, as the CLI's ``--range`` takes them.
RANGES: Dict[str, Tuple[int, int]] = {
    "system": (0, 1023),
    "user": (1024, 49151),
    "dynamic": (49152, 65535),
}


class PortRange(NamedTuple):
    """A port or a range of ports, both ends included: ``PortRange(6000, 6063)``."""

    low: int
    high: int

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and self.low <= port <= self.high

    def range(self) -> range:
        """The ports as a ``range`` (``high`` included)."""
        return range(self.low, self.high + 1)


class Reference(NamedTuple):
    """A reference of a record: ``type`` is rfc, draft, uri, text, note or person."""

    type: str
    data: str
    title: Optional[str]


def _date(text: Optional[str]) -> Optional[datetime.date]:
    # IANA states some dates to the month (``2006-04``): the first of that month.
    if text is None:
        return None
    if len(text) == 7:
        text += "-01"
    return datetime.date.fromisoformat(text)


@dataclass(frozen=True)
class Record:
    """One record of the registry: every field of portreg's JSON record
    (``docs/record.md``), typed; :meth:`to_dict` gives the JSON object back as
    ``portreg --format json`` prints it."""

    name: Optional[str]
    port_low: Optional[int]
    port_high: Optional[int]
    transport: Optional[str]
    description: Optional[str]
    status: str
    aliases: Tuple[str, ...]
    assignees: Tuple[str, ...]
    contacts: Tuple[str, ...]
    registered: Optional[datetime.date]
    modified: Optional[datetime.date]
    references: Tuple[Reference, ...]
    service_code: Optional[str]
    unauthorized_use: Optional[str]
    notes: Optional[str]
    range_class: Optional[str]
    source: str
    #: IANA XML's inner markup of the description and the notes, where there was some.
    description_markup: Optional[str] = None
    notes_markup: Optional[str] = None
    #: The legacy list's banner lines above the entry.
    banners: Tuple[str, ...] = ()
    #: Earlier assignments of the entry, each a record.
    history: Tuple["Record", ...] = ()
    #: nmap's open frequency, as written.
    frequency: Optional[str] = None
    #: The port or range as the file wrote it (``4748-4748``).
    ports_as_written: Optional[str] = None
    #: Whether the legacy list wrote the entry as a comment.
    commented: Optional[bool] = None
    #: How the record answers a lookup (canonical, alias, historic, unnamed).
    role: Optional[str] = None
    #: How well it matches a search (exact-name, name-prefix, ...).
    match: Optional[str] = None
    _json: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, value: Dict[str, Any]) -> "Record":
        """A record from its JSON object (as ``portreg --format json`` prints it)."""
        return cls(
            name=value["name"],
            port_low=value["port_low"],
            port_high=value["port_high"],
            transport=value["transport"],
            description=value["description"],
            status=value["status"],
            aliases=tuple(value["aliases"]),
            assignees=tuple(value["assignees"]),
            contacts=tuple(value["contacts"]),
            registered=_date(value["registered"]),
            modified=_date(value["modified"]),
            references=tuple(
                Reference(r["type"], r["data"], r.get("title")) for r in value["references"]
            ),
            service_code=value["service_code"],
            unauthorized_use=value["unauthorized_use"],
            notes=value["notes"],
            range_class=value["range_class"],
            source=value["source"],
            description_markup=value.get("description_markup"),
            notes_markup=value.get("notes_markup"),
            banners=tuple(value.get("banners", ())),
            history=tuple(cls.from_dict(earlier) for earlier in value.get("history", ())),
            frequency=value.get("frequency"),
            ports_as_written=value.get("ports_as_written"),
            commented=value.get("commented"),
            role=value.get("role"),
            match=value.get("match"),
            _json=value,
        )

    @property
    def ports(self) -> Optional[PortRange]:
        """The port or range, or ``None`` for a name-only record."""
        if self.port_low is None or self.port_high is None:
            return None
        return PortRange(self.port_low, self.port_high)

    def to_dict(self) -> Dict[str, Any]:
        """The record's JSON object, equal to ``portreg --format json``'s."""
        copy: Dict[str, Any] = json.loads(json.dumps(self._json))
        return copy

    def __repr__(self) -> str:
        ports = self.ports
        where = "-" if ports is None else (
            str(ports.low) if ports.low == ports.high else f"{ports.low}-{ports.high}"
        )
        if self.transport:
            where += f"/{self.transport}"
        return f"Record({self.name or '-'!s} {where} {self.status}: {self.description or ''!r})"


def _records(text: str) -> List[Record]:
    return [Record.from_dict(value) for value in json.loads(text)]


def _transports(transport: Union[None, str, Sequence[str]]) -> List[str]:
    if transport is None:
        return []
    if isinstance(transport, str):
        return [t for t in transport.split(",") if t]
    return list(transport)


class Registry:
    """A registry: the built-in one (:meth:`embedded`), the one ``portreg`` uses
    (:meth:`default`: installed by ``portreg update``, else built in, with local names),
    or any file portreg reads (``Registry(path)``: IANA XML, CSV or text, the legacy
    list, services(5), nmap-services, a compiled registry; detected as ``--registry``
    detects it)."""

    def __init__(self, path: Union[str, "PathLike[str]"]) -> None:
        self._native = _portreg.NativeRegistry.read(str(path))

    @classmethod
    def _of(cls, native: "_portreg.NativeRegistry") -> "Registry":
        registry = cls.__new__(cls)
        registry._native = native
        return registry

    @classmethod
    def embedded(cls) -> "Registry":
        """The registry built into portreg."""
        return cls._of(_portreg.NativeRegistry.embedded())

    @classmethod
    def default(cls) -> "Registry":
        """The registry the ``portreg`` command uses."""
        return cls._of(_portreg.NativeRegistry.default_registry())

    @property
    def origin(self) -> str:
        """Where the registry comes from."""
        return self._native.origin

    def __len__(self) -> int:
        return len(self._native)

    def __repr__(self) -> str:
        return f"<portreg.Registry {self.origin} ({len(self)} records)>"

    def records(self) -> List[Record]:
        """Every record, in the registry's order."""
        return _records(self._native.records())

    def lookup(
        self, query: Union[str, int], transport: Union[None, str, Sequence[str]] = None,
        all: bool = False,
    ) -> List[Record]:
        """What ``portreg QUERY`` answers: a port (``22``, ``"22/tcp"``), a range
        (``"6000-6010"``), a name in any case, a DNS-SD form (``"_ssh._tcp"``)."""
        return _records(self._native.lookup(str(query), _transports(transport), all))

    def search(
        self, text: str, limit: int = 20, transport: Union[None, str, Sequence[str]] = None
    ) -> List[Record]:
        """Names and descriptions holding ``text``, best matches first."""
        return _records(self._native.search(text, _transports(transport), limit))

    def check_name(self, name: str) -> Dict[str, Any]:
        """A service name against RFC 6335 and the registry, as ``portreg check-name``'s
        JSON: ``valid``, ``problems``, ``taken_by``..."""
        result: Dict[str, Any] = json.loads(self._native.check_name(name))
        return result

    def free(
        self,
        range: Union[str, Tuple[int, int]] = "user",
        count: Optional[int] = None,
        transport: Union[None, str, Sequence[str]] = None,
        include_ephemeral: bool = False,
        include_kernel_reserved: bool = False,
        include_listening: bool = False,
        include_browser_blocked: bool = False,
        avoid_popular: bool = False,
        nmap: Union[None, str, "PathLike[str]"] = None,
    ) -> List[PortRange]:
        """Port spans free on every transport given (tcp and udp when none), as
        ``portreg free``: ``range`` is ``system``, ``user``, ``dynamic``, ``"LOW-HIGH"`` or a
        pair; this machine's ephemeral range, reserved and listening ports and the ports
        browsers block are left out unless included; ``avoid_popular`` leaves out nmap's
        most used ports too (its table at ``nmap``, else its usual place)."""
        spans = json.loads(self._free(range, count, transport, include_ephemeral,
                                      include_kernel_reserved, include_listening,
                                      include_browser_blocked, avoid_popular, nmap))
        return [PortRange(s["port_low"], s["port_high"]) for s in spans]

    def explain_port(
        self,
        port: int,
        transport: Union[None, str, Sequence[str]] = None,
        include_ephemeral: bool = False,
        include_kernel_reserved: bool = False,
        include_listening: bool = False,
        include_browser_blocked: bool = False,
    ) -> Dict[str, Any]:
        """Why ``free`` does not offer ``port`` (``portreg free --explain PORT``'s JSON)."""
        result: Dict[str, Any] = json.loads(self._free(
            "user", None, transport, include_ephemeral, include_kernel_reserved,
            include_listening, include_browser_blocked, False, None, explain=port))
        return result

    def stable_port(
        self,
        name: str,
        transport: Union[None, str, Sequence[str]] = None,
        include_listening: bool = False,
    ) -> Dict[str, Any]:
        """One stable free port for a new service ``name`` (``portreg free --for NAME``'s
        JSON): the same name gets the same port on every machine."""
        result: Dict[str, Any] = json.loads(self._free(
            "user", None, transport, False, False, include_listening, False, False, None,
            stable_for=name))
        return result

    def _free(
        self, range: Union[str, Tuple[int, int]], count: Optional[int],
        transport: Union[None, str, Sequence[str]], include_ephemeral: bool,
        include_kernel_reserved: bool, include_listening: bool, include_browser_blocked: bool,
        avoid_popular: bool, nmap: Union[None, str, "PathLike[str]"],
        explain: Optional[int] = None, stable_for: Optional[str] = None,
    ) -> str:
        return self._native.free(
            _range(range), count, _transports(transport) or ["tcp", "udp"], include_ephemeral,
            include_kernel_reserved, include_listening, include_browser_blocked, avoid_popular,
            None if nmap is None else str(nmap), explain, stable_for,
        )

    def about(self) -> Dict[str, Any]:
        """portreg's version and this registry's provenance, as ``portreg about``'s JSON."""
        result: Dict[str, Any] = json.loads(self._native.about())
        return result

    def getservbyport(self, port: int, protocolname: Optional[str] = None) -> str:
        """:func:`socket.getservbyport` answered by this registry."""
        port, protocolname = _port_arguments(port, protocolname)
        name = self._native.getservbyport(port, protocolname)
        if name is None:
            raise OSError("port/proto not found")
        return name

    def getservbyname(self, servicename: str, protocolname: Optional[str] = None) -> int:
        """:func:`socket.getservbyname` answered by this registry."""
        if not isinstance(servicename, str):
            raise TypeError(
                f"getservbyname() argument 1 must be str, not {type(servicename).__name__}"
            )
        protocolname = _protocol_argument(protocolname, 2, "getservbyname")
        port = self._native.getservbyname(servicename, protocolname)
        if port is None:
            raise OSError("service/proto not found")
        return port

    def service_names(self, ports: Any, transports: Any = None) -> Any:
        """The service name of every port of ``ports`` (a pyarrow array or chunked array,
        a polars or pandas Series, a numpy array, a list): a pyarrow dictionary array of
        strings, null where the registry has no name. ``transports`` is one transport for
        every row (``"tcp"``) or a column of them (``tcp``, ``TCP``, ``6``, ``17``; others
        give null); without it any transport answers."""
        return self._answer(ports, transports, ("name",), "ports")[0]

    def enrich(
        self,
        frame: Any,
        port: str = "id.resp_p",
        transport: Optional[str] = "proto",
        add: Iterable[str] = ("name",),
    ) -> Any:
        """``frame`` (a pyarrow Table, a polars or a pandas DataFrame) with the columns
        ``portreg enrich`` adds (``port_name``, ``port_description``, ``port_status``,
        ``port_range_class``, ``port_source``), the same kind of frame back. ``transport``
        names the frame's transport column; where the frame has none, any transport
        answers."""
        add = tuple(add)
        for column in add:
            if column.removeprefix("port_") not in COLUMNS:
                raise ValueError(
                    f"{column!r} is not a column: {', '.join(COLUMNS)}"
                )
        names = [f"port_{column.removeprefix('port_')}" for column in add]
        kind = _frame_kind(frame)
        columns = _frame_columns(frame, kind)
        if port not in columns:
            raise ValueError(f"the frame has no column {port!r}")
        transports = _column(frame, kind, transport) if transport in columns else None
        arrays = self._answer(_column(frame, kind, port), transports, add, port)
        return _with_columns(frame, kind, names, arrays)

    def _answer(self, ports: Any, transports: Any, add: Sequence[str], name: str) -> List[Any]:
        one: Optional[str] = None
        column: Any = None
        if isinstance(transports, str):
            one = transports
        elif transports is not None:
            column = _arrow(transports, "transports")
        columns = [c.removeprefix("port_") for c in add]
        return self._native.answer_columns(
            _arrow(ports, name), columns, column, one, name
        )


def _range(value: Union[str, Tuple[int, int]]) -> Tuple[int, int]:
    if isinstance(value, tuple):
        return value
    if value in RANGES:
        return RANGES[value]
    low, _, high = value.partition("-")
    try:
        return int(low), int(high or low)
    except ValueError:
        raise ValueError(
            f"{value!r} is not a range: user, system, dynamic, or LO-HI (such as 8000-8999)"
        ) from None


def _protocol_argument(protocolname: Optional[str], position: int, function: str) -> Optional[str]:
    if protocolname is not None and not isinstance(protocolname, str):
        raise TypeError(
            f"{function}() argument {position} must be str, not {type(protocolname).__name__}"
        )
    return protocolname


def _port_arguments(port: int, protocolname: Optional[str]) -> Tuple[int, Optional[str]]:
    if isinstance(port, bool) or not isinstance(port, int):
        # socket's own message for a wrong type.
        raise TypeError(f"'{type(port).__name__}' object cannot be interpreted as an integer")
    if not 0 <= port <= 65535:
        raise OverflowError("getservbyport: port must be 0-65535.")
    return port, _protocol_argument(protocolname, 2, "getservbyport")


def _arrow(values: Any, name: str) -> Any:
    """``values`` as something holding the Arrow PyCapsule interface."""
    if hasattr(values, "__arrow_c_stream__") or hasattr(values, "__arrow_c_array__"):
        return values
    import pyarrow as pa

    try:
        module = type(values).__module__.split(".")[0]
        if module == "pandas":
            return pa.array(values, from_pandas=True)
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError) as error:
        raise ValueError(f"column {name!r}: {error}") from None


def _frame_kind(frame: Any) -> str:
    module = type(frame).__module__.split(".")[0]
    kinds = {"pyarrow": "pyarrow", "polars": "polars", "pandas": "pandas"}
    if module not in kinds:
        raise TypeError(
            f"enrich() takes a pyarrow Table, a polars DataFrame or a pandas DataFrame, "
            f"not {type(frame).__name__}"
        )
    return kinds[module]


def _frame_columns(frame: Any, kind: str) -> List[str]:
    if kind == "pyarrow":
        return list(frame.column_names)
    return [str(c) for c in frame.columns]


def _column(frame: Any, kind: str, name: Optional[str]) -> Any:
    if kind == "pyarrow":
        return frame.column(name)
    if kind == "polars":
        return frame.get_column(name)
    return frame[name]


def _with_columns(frame: Any, kind: str, names: List[str], arrays: List[Any]) -> Any:
    if kind == "pyarrow":
        for name, array in zip(names, arrays):
            frame = frame.append_column(name, array)
        return frame
    if kind == "polars":
        import polars as pl

        return frame.with_columns(
            [pl.Series(name, array.dictionary_decode()) for name, array in zip(names, arrays)]
        )
    import pandas as pd

    added = {}
    for name, array in zip(names, arrays):
        values = array.dictionary_decode().to_pandas().astype(object)
        # Missing values as None, as in any column of text pandas reads.
        added[name] = values.where(values.notna(), None).set_axis(frame.index)
    return frame.assign(**added)


_default: Optional[Registry] = None
_default_lock = threading.Lock()


def _registry() -> Registry:
    global _default
    with _default_lock:
        if _default is None:
            _default = Registry.default()
        return _default


def lookup(query: Union[str, int], transport: Union[None, str, Sequence[str]] = None) -> List[Record]:
    """What ``portreg QUERY`` answers, from the registry ``portreg`` uses."""
    return _registry().lookup(query, transport)


def search(text: str, limit: int = 20) -> List[Record]:
    """Names and descriptions holding ``text``, best matches first."""
    return _registry().search(text, limit)


def check_name(name: str) -> Dict[str, Any]:
    """A service name against RFC 6335 and the registry."""
    return _registry().check_name(name)


def free(
    range: Union[str, Tuple[int, int]] = "user",
    count: Optional[int] = None,
    transport: Union[None, str, Sequence[str]] = None,
    include_ephemeral: bool = False,
    include_kernel_reserved: bool = False,
    include_listening: bool = False,
    include_browser_blocked: bool = False,
    avoid_popular: bool = False,
    nmap: Union[None, str, "PathLike[str]"] = None,
) -> List[PortRange]:
    """Port spans free on every transport given, as ``portreg free``: see
    :meth:`Registry.free`; :func:`explain_port` and :func:`stable_port` are its
    ``--explain`` and ``--for``."""
    return _registry().free(
        range, count, transport, include_ephemeral, include_kernel_reserved,
        include_listening, include_browser_blocked, avoid_popular, nmap,
    )


def explain_port(port: int, transport: Union[None, str, Sequence[str]] = None) -> Dict[str, Any]:
    """Why :func:`free` does not offer ``port`` (``portreg free --explain``)."""
    return _registry().explain_port(port, transport)


def stable_port(name: str, transport: Union[None, str, Sequence[str]] = None) -> Dict[str, Any]:
    """A stable free port for a new service ``name`` (``portreg free --for``)."""
    return _registry().stable_port(name, transport)


def about() -> Dict[str, Any]:
    """portreg's version and the registry in use."""
    return _registry().about()


def getservbyport(port: int, protocolname: Optional[str] = None) -> str:
    """A drop-in for :func:`socket.getservbyport`, answered from IANA's whole registry
    as portreg's name service answers it."""
    return _registry().getservbyport(port, protocolname)


def getservbyname(servicename: str, protocolname: Optional[str] = None) -> int:
    """A drop-in for :func:`socket.getservbyname`, answered as portreg's name service
    answers it."""
    return _registry().getservbyname(servicename, protocolname)


def service_names(ports: Any, transports: Any = None) -> Any:
    """The service name of every port of a column, at Arrow speed: see
    :meth:`Registry.service_names`."""
    return _registry().service_names(ports, transports)


def enrich(
    frame: Any,
    port: str = "id.resp_p",
    transport: Optional[str] = "proto",
    add: Iterable[str] = ("name",),
) -> Any:
    """A frame with the columns ``portreg enrich`` adds: see :meth:`Registry.enrich`."""
    return _registry().enrich(frame, port, transport, add)
