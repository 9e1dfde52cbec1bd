"""Writes a Zeek conn.log of about SIZE bytes (default 1 GB) to PATH: tcp, udp and icmp,
responder ports across all three ranges (well-known ports most often, as in real traffic)."""
import random
import sys

path = sys.argv[1]
size = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000_000
rng = random.Random(6335)
common = [22, 25, 53, 80, 123, 143, 443, 993, 3306, 3389, 5432, 8080, 8443, 4200, 4250]
ports = [rng.choice(common) if rng.random() < 0.6 else rng.randrange(0, 65536) for _ in range(4096)]
protos = ["tcp"] * 6 + ["udp"] * 3 + ["icmp"]
lines = []
for i in range(4096):
    proto = protos[i % len(protos)]
    port = ports[i] if proto != "icmp" else rng.randrange(0, 16)
    lines.append(
        f"1700000000.{i:06d}\tC{i:017x}\t10.{i % 256}.{(i >> 8) % 256}.7\t{rng.randrange(1024, 65536)}"
        f"\t192.0.2.{i % 250}\t{port}\t{proto}\t-\t0.{i % 1000:03d}\t{i % 5000}\t{i % 9000}\tSF\tT\tF\t0\tShADadFf\t{i % 40}\t{i % 9000 + 1000}\t{i % 30}\t{i % 4000 + 800}\t-\n"
    )
block = "".join(lines)
header = (
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n"
    "#open\t2026-11-26-00-00-00\n"
    "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\t"
    "conn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\n"
    "#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]\n"
)
with open(path, "w") as out:
    out.write(header)
    written = len(header)
    while written < size:
        out.write(block)
        written += len(block)
    out.write("#close\t2026-11-26-00-00-01\n")
