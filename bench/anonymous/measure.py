"""Grows an authority's log to ENTRIES entries, then measures the server's CPU time and
peak memory per anonymous request of each route (see bench/anonymous.sh)."""
import http.client
import json
import os
import sys
import time

base, pid, token, entries, repeat = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
host, port = base.removeprefix("http://").split(":")
connection = http.client.HTTPConnection(host, int(port), timeout=60)
ticks = os.sysconf("SC_CLK_TCK")


def call(method, path, body=None, headers=None):
    connection.request(method, path, body=body, headers=headers or {})
    answer = connection.getresponse()
    data = answer.read()
    return answer.status, data


def cpu():
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / ticks


def peak():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
size = json.loads(call("GET", "/v1/log/head")[1])["size"]
port_number = 20000
while size < entries:
    port_number += 1
    body = json.dumps({"name": f"zq-anon-{port_number}", "transport": "tcp", "port": port_number,
                       "description": "d", "assignee": "a", "contact": "c"})
    status, filed = call("POST", "/v1/requests", body, auth)
    if status == 201:
        call("POST", f"/v1/requests/{json.loads(filed)['id']}/withdraw", "{}", auth)
    size = json.loads(call("GET", "/v1/log/head")[1])["size"]
print(f"a log of {size} entries; {repeat} requests of each route; CPU ms a request (the server's), peak RSS MB")
def measure(label, paths):
    before, started = cpu(), time.perf_counter()
    statuses = set()
    for path in paths:
        statuses.add(call("GET", path)[0])
    spent = (cpu() - before) / len(paths) * 1000
    wall = (time.perf_counter() - started) / len(paths) * 1000
    print(f"{label:60} {spent:8.2f} ms CPU {wall:8.2f} ms wall  {peak():6.1f} MB  {sorted(statuses)}")


# The built-in history is read by the first request that needs it; then spans of 8
# ports, none asked before (no answer kept), cost what computing them costs.
measure("/v1/history/22 (the first: the built-in history read)", ["/v1/history/22"])
measure("/v1/history/N-N+7, spans never asked before", [f"/v1/history/{8 * i}-{8 * i + 7}" for i in range(1, repeat + 1)])
routes = [
    "/healthz", "/v1/ports/22", "/v1/ports/0-65535?all=true&limit=1000", "/v1/services/ssh",
    "/v1/search?q=a&limit=1000", "/v1/check-name/zq-x", "/v1/info/22",
    "/v1/free?transport=tcp,udp&range=1024-65535&count=1000", "/v1/free/explain/8080", "/v1/registry",
    "/v1/registry.bin", "/openapi.json", "/", "/v1/history/0-7", "/v1/history/submissions",
    "/v1/history/0-65535", "/v1/ports/22?as_of=2016-06-01", "/v1/history?subject=ssh",
    "/v1/log/checkpoint", "/v1/log/head", "/v1/log/entries?start=1&end=256",
    f"/v1/log/proof/consistency?from=1&to={size}", f"/v1/log/proof/inclusion?entry={size // 2}",
    "/v1/log/tile/0/000", "/v1/authority/key",
]
for route in routes:
    measure(route, [route] * repeat)
# Dates cycled past the snapshots kept: each a compile.
dates = ["2008-03-01", "2013-07-01", "2017-06-01", "2019-06-01", "2021-06-01", "2024-06-01"]
before = cpu()
for date in dates * 2:
    call("GET", f"/v1/ports/22?as_of={date}")
print(f"{'as_of cycled over 6 dates (4 kept)':60} {(cpu() - before) / 12 * 1000:8.2f} ms CPU a request      {peak():6.1f} MB")
