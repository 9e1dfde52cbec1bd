"""Files and approves PAIRS requests over one keep-alive connection each for the
requester and the expert; prints pairs a second and the latency of each kind of call."""
import http.client
import json
import sys
import time
import urllib.parse

base, requester, expert, pairs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
host = urllib.parse.urlparse(base).netloc
filer, judge = http.client.HTTPConnection(host), http.client.HTTPConnection(host)


def call(connection, token, path, body):
    started = time.perf_counter()
    connection.request("POST", path, json.dumps(body),
                       {"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    response = connection.getresponse()
    answer = json.loads(response.read())
    if response.status not in (200, 201):
        sys.exit(f"{path}: HTTP {response.status}: {answer}")
    return answer, time.perf_counter() - started


filed, approved = [], []
started = time.perf_counter()
for i in range(pairs):
    request, seconds = call(filer, requester, "/v1/requests", {
        "name": f"zq-bench-{i}", "transport": "tcp", "port": 42000 + i,
        "description": "benchmark", "assignee": "Bench", "contact": "bench@example.org"})
    filed.append(seconds)
    _, seconds = call(judge, expert, f"/v1/requests/{request['id']}/review", {"decision": "approve"})
    approved.append(seconds)
total = time.perf_counter() - started


def median(values):
    return sorted(values)[len(values) // 2] * 1000


print(f"| pairs | pairs/s | file (median) | approve (median) |")
print(f"|---|---|---|---|")
print(f"| {pairs} | {pairs / total:.1f} | {median(filed):.1f} ms | {median(approved):.1f} ms |")
