//! Every endpoint and every error status, over loopback.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;

use support::{get, get_with, start};

fn problem(answer: &support::Answer, status: u16) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(
        answer.content_type, "application/problem+json",
        "{}",
        answer.body
    );
    let body = answer.json();
    assert_eq!(body["status"], status);
    assert!(body["title"].is_string() && body["detail"].is_string() && body["type"].is_string());
}

#[test]
fn ports() {
    let base = start();
    let ssh = get(&format!("{base}/v1/ports/22"));
    assert_eq!(
        (ssh.status, ssh.content_type.as_str()),
        (200, "application/json")
    );
    let records = ssh.json();
    assert!(records
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["name"] == "ssh" && r["transport"] == "tcp"));
    assert_eq!(records[0]["role"], "canonical");
    let x11 = get(&format!("{base}/v1/ports/6000-6010?transport=udp")).json();
    assert_eq!(
        (x11[0]["name"].as_str(), x11[0]["transport"].as_str()),
        (Some("x11"), Some("udp"))
    );
    assert_eq!(x11.as_array().unwrap().len(), 1);
    let reserved = get(&format!("{base}/v1/ports/1024")).json();
    assert_eq!(reserved[0]["status"], "reserved");
    problem(&get(&format!("{base}/v1/ports/70000")), 400);
    problem(&get(&format!("{base}/v1/ports/abc")), 400);
    // A range written backwards is the same range.
    assert_eq!(
        get(&format!("{base}/v1/ports/9-8")).body,
        get(&format!("{base}/v1/ports/8-9")).body
    );
    problem(&get(&format!("{base}/v1/ports/22?transport=x%2Fz")), 400);
    problem(&get(&format!("{base}/v1/ports/22?all=maybe")), 400);
    // A parameter no route knows is refused, not a fresh answer to compute and keep.
    for path in [
        "/v1/ports/22?zz=1",
        "/v1/services/ssh?x=",
        "/v1/search?q=ssh&nonce=7",
        "/v1/info/22?y=1",
        "/v1/history/22?z=1",
    ] {
        problem(&get(&format!("{base}{path}")), 400);
    }
    problem(&get(&format!("{base}/v1/ports/49152")), 404);
}

#[test]
fn services() {
    let base = start();
    let ssh = get(&format!("{base}/v1/services/SSH")).json();
    // Port 22 on each transport, and IANA's name-only (DNS-SD) record.
    assert!(ssh
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["port_low"] == 22 || r["port_low"].is_null()));
    assert_eq!(ssh[0]["port_low"], 22);
    let dns_sd = get(&format!("{base}/v1/services/_ssh._tcp")).json();
    assert!(dns_sd
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["transport"] == "tcp"));
    assert_eq!(dns_sd[0]["port_low"], 22);
    let www = get(&format!("{base}/v1/services/www?transport=tcp")).json();
    assert_eq!(
        (www[0]["name"].as_str(), www[0]["role"].as_str()),
        (Some("http"), Some("alias"))
    );
    problem(&get(&format!("{base}/v1/services/zz-no-such-svc")), 404);
    // Any text may name a service; a port is no name (404, pointing to /v1/ports).
    let port = get(&format!("{base}/v1/services/22"));
    assert_eq!(port.status, 404);
    assert!(port.body.contains("/v1/ports/22"));
}

#[test]
fn search() {
    let base = start();
    let hits = get(&format!("{base}/v1/search?q=sql&limit=3")).json();
    assert_eq!(hits.as_array().unwrap().len(), 3);
    assert!(hits
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["match"].is_string()));
    let mysql = get(&format!("{base}/v1/search?q=MySQL")).json();
    assert_eq!(
        (mysql[0]["name"].as_str(), mysql[0]["match"].as_str()),
        (Some("mysql"), Some("exact-name"))
    );
    problem(&get(&format!("{base}/v1/search")), 400);
    problem(&get(&format!("{base}/v1/search?q=%20")), 400);
    problem(&get(&format!("{base}/v1/search?q=sql&limit=many")), 400);
    problem(&get(&format!("{base}/v1/search?q=zzqqxx")), 404);
}

#[test]
fn free_check_name_info_registry_health() {
    let base = start();
    let spans = get(&format!("{base}/v1/free?transport=tcp&range=1020-1030")).json();
    assert!(spans
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["port_low"].as_u64() <= s["port_high"].as_u64()));
    let counted = get(&format!("{base}/v1/free?count=3")).json();
    assert_eq!(portreg_testing::span_total(&counted), 3);
    problem(&get(&format!("{base}/v1/free?range=lots")), 400);
    problem(&get(&format!("{base}/v1/free?count=-1")), 400);

    let taken = get(&format!("{base}/v1/check-name/ssh")).json();
    assert_eq!(
        (taken["valid"].as_bool(), taken["free"].as_bool()),
        (Some(true), Some(false))
    );
    let bad = get(&format!("{base}/v1/check-name/a--b")).json();
    assert_eq!(bad["problems"][0]["code"], "adjacent-hyphens");

    let info = get(&format!("{base}/v1/info/22")).json();
    assert_eq!(info["ports"][0]["range_class"], "system");
    assert!(info["records"][0]["links"].is_array() && info["records"][0]["people"].is_object());
    problem(&get(&format!("{base}/v1/info/70000")), 400);
    problem(&get(&format!("{base}/v1/info/zz-no-such-svc")), 404);

    let registry = get(&format!("{base}/v1/registry")).json();
    assert_eq!(registry["registry"], "embedded");
    assert!(registry["records"].as_u64().unwrap() > 10_000);
    assert_eq!(get(&format!("{base}/healthz")).json()["status"], "ok");
}

#[test]
fn history_and_as_of() {
    let base = start();
    let timeline = get(&format!("{base}/v1/history/465?transport=tcp"));
    assert_eq!(timeline.status, 200, "{}", timeline.body);
    let body = timeline.json();
    assert!(body["snapshots"]["count"].as_u64().unwrap() > 300);
    let names: Vec<&str> = body["records"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["versions"][0]["record"]["name"].as_str())
        .collect();
    assert!(
        names.contains(&"urd") && names.contains(&"submissions"),
        "{names:?}"
    );
    problem(&get(&format!("{base}/v1/history/zq-never-a-name")), 404);
    problem(&get(&format!("{base}/v1/history/70000")), 400);
    problem(&get(&format!("{base}/v1/history/22?transport=icmp")), 400);
    // As published on a date: the snapshot named in a header.
    let then = get(&format!(
        "{base}/v1/ports/465?transport=tcp&as_of=2016-06-01"
    ));
    assert_eq!(then.status, 200, "{}", then.body);
    assert_eq!(
        then.header("x-portreg-as-of"),
        Some("2013-06-26 (service-names-port-numbers.txt)")
    );
    let names: Vec<serde_json::Value> = then
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].clone())
        .collect();
    assert_eq!(names, [serde_json::Value::from("urd")]);
    let now = get(&format!("{base}/v1/ports/465?transport=tcp"));
    assert!(now.header("x-portreg-as-of").is_none());
    assert!(now.body.contains("submissions"));
    let search = get(&format!("{base}/v1/search?q=submissions&as_of=2016-06-01"));
    assert_eq!(search.status, 404, "{}", search.body);
    let service = get(&format!("{base}/v1/services/submissions?as_of=2018-06-01"));
    assert_eq!(service.status, 200, "{}", service.body);
    let info = get(&format!("{base}/v1/info/400?as_of=2020-01-01"));
    assert!(info.body.contains("Joseph_Dziedzic"), "{}", info.body);
    problem(&get(&format!("{base}/v1/ports/22?as_of=1999-01-01")), 404);
    problem(&get(&format!("{base}/v1/ports/22?as_of=soon")), 400);
    // A day the calendar does not have is no date.
    problem(&get(&format!("{base}/v1/ports/22?as_of=2015-02-29")), 400);
    // A history query covers at most 8 ports, or one name.
    let wide = get(&format!("{base}/v1/history/0-65535"));
    problem(&wide, 422);
    assert!(wide.body.contains("at most 8 ports"), "{}", wide.body);
    assert_eq!(get(&format!("{base}/v1/history/440-447")).status, 200);
    assert_eq!(get(&format!("{base}/v1/history/440-448")).status, 422);
    // The authority's own events stay at /v1/history (not served without an authority).
    problem(&get(&format!("{base}/v1/history?subject=x")), 404);
}

#[test]
fn openapi_describes_every_route() {
    let base = start();
    let document = get(&format!("{base}/openapi.json")).json();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let paths = document["paths"].as_object().unwrap();
    for route in [
        "/v1/ports/{ports}",
        "/v1/services/{name}",
        "/v1/search",
        "/v1/free",
        "/v1/check-name/{name}",
        "/v1/info/{query}",
        "/v1/registry",
        "/v1/history/{query}",
        "/healthz",
    ] {
        assert!(
            paths.contains_key(route),
            "{route} is in the OpenAPI document"
        );
    }
    let schemas = document["components"]["schemas"].as_object().unwrap();
    for key in [
        "name",
        "port_low",
        "port_high",
        "transport",
        "status",
        "range_class",
    ] {
        assert!(
            schemas["JsonRecord"]["properties"].get(key).is_some(),
            "JsonRecord.{key}"
        );
    }
    assert!(schemas.contains_key("Problem"));
}

#[test]
fn page_and_caching() {
    let base = start();
    let page = get(&format!("{base}/"));
    assert_eq!(page.status, 200);
    assert!(page.content_type.starts_with("text/html"));
    assert!(page.body.contains("<html") && page.body.contains("id=\"q\""));
    assert!(
        !page.body.contains("http://") && !page.body.contains("https://cdn"),
        "nothing loaded from outside"
    );
    let first = get(&format!("{base}/v1/ports/22"));
    let etag = first.header("etag").expect("ETag").to_owned();
    assert_eq!(first.header("cache-control"), Some("public, max-age=300"));
    let again = get_with(&format!("{base}/v1/ports/22"), &[("If-None-Match", &etag)]);
    assert_eq!(again.status, 304);
    let gzip = raw_head(&base, b"GET /openapi.json HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n");
    assert!(
        gzip.to_ascii_lowercase().contains("content-encoding: gzip"),
        "{gzip}"
    );
}

/// Sends raw bytes as a request; returns the answer's head (status line and headers).
fn raw_head(base: &str, request: &[u8]) -> String {
    let address = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap();
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    text.split("\r\n\r\n").next().unwrap_or("").to_owned()
}

/// Sends raw bytes as a request; returns the status code (0 when the connection closed).
fn raw(base: &str, request: &[u8]) -> u16 {
    raw_head(base, request)
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

#[test]
fn bad_input_gets_a_clear_4xx_and_the_server_keeps_serving() {
    let base = start();
    problem(&get(&format!("{base}/no/such/thing")), 404);
    problem(
        &get(&format!("{base}/v1/search?q={}", "a".repeat(5000))),
        414,
    );
    problem(&get(&format!("{base}/v1/search?q=%FF%FE")), 400);
    problem(&get(&format!("{base}/v1/services/%FF")), 400);
    // A lone % is taken literally, as the form encoding allows.
    problem(&get(&format!("{base}/v1/search?q=%")), 404);
    let post = raw(
        &base,
        b"POST /v1/ports/22 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(post, 405);
    let invalid_utf8 = raw(
        &base,
        b"GET /v1/search?q=\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!((400..500).contains(&invalid_utf8), "{invalid_utf8}");
    let garbage = raw(&base, b"\x00\x01\x02 nonsense\r\n\r\n");
    assert!((400..500).contains(&garbage), "{garbage}");
    let huge = raw(
        &base,
        format!(
            "GET /{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "x".repeat(200_000)
        )
        .as_bytes(),
    );
    assert!((400..500).contains(&huge) || huge == 0, "{huge}");
    assert_eq!(get(&format!("{base}/healthz")).status, 200, "still serving");
}
