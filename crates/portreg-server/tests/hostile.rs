//! Hostile clients: connections that send nothing, wide answers asked for whole, pages,
//! and the headers that keep the page and the API safe to use from browsers.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::{get, start};

#[test]
fn a_connection_that_sends_nothing_is_closed_and_others_are_served() {
    let base = start();
    let address = base.trim_start_matches("http://").to_owned();
    // Many sockets that connect and wait.
    let idle: Vec<TcpStream> = (0..200)
        .map(|_| TcpStream::connect(&address).unwrap())
        .collect();
    // Half a request line, then silence, at the same time.
    let mut slow = TcpStream::connect(&address).unwrap();
    slow.write_all(b"GET /v1/ports/22 HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let started = Instant::now();
    assert_eq!(get(&format!("{base}/healthz")).status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "healthz answered late"
    );
    // One of them is closed once the idle timeout has passed.
    let mut one = idle.into_iter().next().unwrap();
    one.set_read_timeout(Some(portreg_server::IDLE_TIMEOUT + Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let mut buffer = [0u8; 16];
    let read = one.read(&mut buffer);
    assert!(matches!(read, Ok(0)) || read.is_err(), "closed: {read:?}");
    assert!(started.elapsed() <= portreg_server::IDLE_TIMEOUT + Duration::from_secs(5));
    // The half request is closed too, without an answer.
    slow.set_read_timeout(Some(portreg_server::IDLE_TIMEOUT + Duration::from_secs(10)))
        .unwrap();
    let mut answer = Vec::new();
    let _ = slow.read_to_end(&mut answer);
    assert!(!String::from_utf8_lossy(&answer).contains("\"ssh\""));
}

#[test]
fn wide_answers_come_in_pages_with_a_link_to_the_next() {
    let base = start();
    let first = get(&format!("{base}/v1/ports/0-65535?all=true"));
    assert_eq!(first.status, 200);
    assert_eq!(first.json().as_array().unwrap().len(), 100);
    let mut link = first.header("link").expect("a next link").to_owned();
    let mut seen = 100;
    let mut pages = 1;
    while pages < 5 {
        let next = link
            .trim_start_matches('<')
            .split_once('>')
            .map(|(uri, rest)| {
                assert!(rest.contains("rel=\"next\""));
                uri.to_owned()
            })
            .unwrap();
        let page = get(&format!("{base}{next}"));
        assert_eq!(page.status, 200, "{next}");
        seen += page.json().as_array().unwrap().len();
        pages += 1;
        match page.header("link") {
            Some(more) => link = more.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, 500);
    let big = get(&format!("{base}/v1/ports/0-65535?all=true&limit=99999999"));
    assert_eq!(big.json().as_array().unwrap().len(), 1000, "capped");
    let search = get(&format!("{base}/v1/search?q=a&limit=7"));
    assert_eq!(search.json().as_array().unwrap().len(), 7);
    assert!(search.header("link").unwrap().contains("cursor=7"));
    assert_eq!(get(&format!("{base}/v1/search?q=a&cursor=x")).status, 400);
    // A single port's few records come whole.
    let ssh = get(&format!("{base}/v1/ports/22"));
    assert!(ssh.header("link").is_none());
}

#[test]
fn the_page_and_the_api_send_safe_headers() {
    let base = start();
    let page = get(&format!("{base}/"));
    let policy = page.header("content-security-policy").expect("a CSP");
    assert!(policy.contains("frame-ancestors 'none'") && policy.contains("script-src 'self'"));
    assert!(!page.body.contains("<script>"), "no inline script");
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    let api = get(&format!("{base}/v1/ports/22"));
    assert_eq!(api.header("access-control-allow-origin"), Some("*"));
    // The page's assets are named by their content and kept for a year.
    let name = page
        .body
        .split("src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the script's address")
        .to_owned();
    assert!(
        name.starts_with("/assets/app.") && name.ends_with(".js"),
        "{name}"
    );
    let script = get(&format!("{base}{name}"));
    assert!(script.content_type.starts_with("text/javascript"));
    assert_eq!(
        script.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(get(&format!("{base}/assets/app.00000000.js")).status, 404);
}

#[test]
fn a_misspelled_name_gets_suggestions() {
    let base = start();
    let missing = get(&format!("{base}/v1/services/sshh"));
    assert_eq!(missing.status, 404);
    let names = missing.json()["suggestions"].to_string();
    assert!(names.contains("\"ssh\""), "{names}");
    // A search that finds nothing suggests too, as the command line does.
    let search = get(&format!("{base}/v1/search?q=htpp"));
    assert_eq!(search.status, 404);
    let names = search.json()["suggestions"].to_string();
    assert!(names.contains("\"http\""), "{names}");
    // The page needs no probe of a queue and gets its icon.
    assert_eq!(
        get(&format!("{base}/v1/registry")).json()["authority"],
        false
    );
    assert_eq!(get(&format!("{base}/favicon.svg")).status, 200);
}

#[test]
fn free_explains_and_picks_as_the_command_line_does() {
    let base = start();
    let explain = get(&format!("{base}/v1/free/explain/6000?transport=tcp")).json();
    assert_eq!(explain["free"], false);
    assert!(
        explain["reasons"].to_string().contains("taken by x11"),
        "{explain}"
    );
    let pick = get(&format!("{base}/v1/free/for/billing-api")).json();
    let port = pick["port"].as_u64().unwrap();
    assert!((1024..=32767).contains(&port));
    // The same pick as `portreg free --for`, which depends on the name and the registry.
    assert_eq!(
        get(&format!("{base}/v1/free/for/BILLING-API")).json()["port"],
        port
    );
    assert_eq!(get(&format!("{base}/v1/free/explain/70000")).status, 400);
}
