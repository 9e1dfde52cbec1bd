"""Lookups, records, socket drop-ins and registries, against the CLI and the real files."""

from __future__ import annotations

import datetime
import json
import socket
from pathlib import Path

import pytest

import portreg
from conftest import cli, shared

EMBEDDED = portreg.Registry.embedded()


def test_lookup_answers_as_the_cli(tmp_path: Path) -> None:
    for query in ["22", "22/tcp", "SSH", "_ldaps._tcp", "6000-6010", "8443/udp", "www"]:
        records = portreg.lookup(query)
        out = cli([query, "--format", "json"], tmp_path)
        assert out.returncode == 0, out.stderr
        assert [r.to_dict() for r in records] == json.loads(out.stdout), query
    ssh = portreg.lookup("22/tcp")[0]
    assert ssh.name == "ssh" and ssh.transport == "tcp" and ssh.role == "canonical"
    assert ssh.ports == portreg.PortRange(22, 22) and 22 in ssh.ports
    assert "ssh" in repr(ssh)
    with pytest.raises(AttributeError):
        ssh.name = "other"  # type: ignore[misc]


def test_records_are_typed() -> None:
    x11 = portreg.lookup("6000/tcp")[0]
    assert x11.ports is not None and x11.ports.range() == range(6000, 6064)
    dated = [r for r in EMBEDDED.search("http", limit=500) if r.registered]
    assert dated and all(isinstance(r.registered, datetime.date) for r in dated)
    assert all(isinstance(ref, portreg.Reference) for r in dated for ref in r.references)


def test_search_check_name_free_about(tmp_path: Path) -> None:
    hits = portreg.search("postgres", limit=5)
    assert hits[0].match == "exact-name" and len(hits) <= 5
    out = cli(["search", "postgres", "--format", "json", "--limit", "5"], tmp_path)
    assert [h.to_dict() for h in hits] == json.loads(out.stdout)
    assert portreg.check_name("ssh")["taken_by"]
    assert not portreg.check_name("-bad-")["valid"]
    spans = portreg.free(range="8000-8100", count=3)
    assert spans and all(8000 <= s.low <= s.high <= 8100 for s in spans)
    with pytest.raises(ValueError):
        portreg.free(range="nowhere")
    out = cli(["free", "--range", "8000-8100", "--count", "3", "--format", "json"], tmp_path)
    assert [list(s) for s in spans] == [[s["port_low"], s["port_high"]] for s in json.loads(out.stdout)]
    assert portreg.explain_port(22)["free"] is False
    pick = portreg.stable_port("zq-new-svc")
    assert pick == portreg.stable_port("zq-new-svc") and isinstance(pick["port"], int)
    with pytest.raises(ValueError, match="not a valid service name"):
        portreg.stable_port("-bad-")
    about = portreg.about()
    assert about["records"] == len(EMBEDDED) and about["portreg"] == portreg.__version__


def test_getservbyport_is_the_name_services_rule_on_every_port() -> None:
    for protocol in ("tcp", "udp"):
        names = EMBEDDED.service_names(list(range(65536)), protocol).to_pylist()
        for port in range(65536):
            try:
                name = EMBEDDED.getservbyport(port, protocol)
            except OSError:
                name = None
            assert name == names[port], (port, protocol)
            if name is None:
                continue
            # getservbyname inverts it, or answers the first record with that name or
            # alias, as libc does (dicom: 104, acr-nema's alias, before its own 11112).
            back = EMBEDDED.getservbyname(name, protocol)
            assert back == port or any(
                name == r.name or name in r.aliases
                for r in EMBEDDED.lookup(f"{back}/{protocol}", all=True)
            )


def test_socket_signatures_and_errors() -> None:
    assert portreg.getservbyport(53) == "domain"
    assert portreg.getservbyname("https", "tcp") == 443
    with pytest.raises(OSError, match="port/proto not found"):
        portreg.getservbyport(60000, "tcp")
    with pytest.raises(OSError, match="service/proto not found"):
        portreg.getservbyname("no-such-service-x", "tcp")
    for bad_port in (-1, 65536, 10**20):
        with pytest.raises(OverflowError):
            portreg.getservbyport(bad_port)
        with pytest.raises(OverflowError):
            socket.getservbyport(bad_port)
    for wrong in ("22", 22.0, None):
        with pytest.raises(TypeError):
            portreg.getservbyport(wrong)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            socket.getservbyport(wrong)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        portreg.getservbyname(22)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        portreg.getservbyport(22, 6)  # type: ignore[arg-type]


def test_to_dict_is_the_clis_json_for_every_record_of_the_2026_xml(tmp_path: Path) -> None:
    xml = shared("iana/newest/service-names-port-numbers.xml")
    registry = portreg.Registry(xml)
    out = cli(["convert", str(xml), "--to", "json", "--quiet"], tmp_path)
    assert out.returncode == 0, out.stderr
    expected = json.loads(out.stdout)
    got = [r.to_dict() for r in registry.records()]
    assert len(got) == len(expected) > 10_000
    for mine, theirs in zip(got, expected):
        assert mine == theirs


def test_registry_reads_any_file_and_says_what_is_wrong(tmp_path: Path) -> None:
    services = tmp_path / "services"
    services.write_text("myproto\t4444/tcp\tmp\t# mine\n")
    registry = portreg.Registry(services)
    assert registry.lookup("4444/tcp")[0].name == "myproto"
    assert registry.getservbyname("mp", "tcp") == 4444
    with pytest.raises(OSError):
        portreg.Registry(tmp_path / "missing")
    garbage = tmp_path / "garbage.xml"
    garbage.write_text("<registry><record><unclosed")
    with pytest.raises((ValueError, OSError)):
        portreg.Registry(garbage)


def test_python_m_portreg_prints_what_portreg_prints(tmp_path: Path) -> None:
    out = cli(["22"], tmp_path)
    assert out.returncode == 0
    assert out.stdout.splitlines()[1].split()[:3] == ["22", "tcp,udp", "ssh"]
    missing = cli(["no-such-name-zz"], tmp_path)
    assert missing.returncode != 0 and "no record" in missing.stderr
