//! Answers that depend only on the registry are computed once and sent in the form the
//! client takes: brotli, gzip or plain; small ones plain; live ones never kept.

mod support;

use std::io::Read;

use support::{get, get_with, start};

/// A GET as bytes on the wire, nothing decoded: status, Content-Encoding, body, Vary.
fn raw(url: &str, encoding: &str) -> (u16, Option<String>, Vec<u8>, Option<String>) {
    use std::io::Write;
    let rest = url.trim_start_matches("http://");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept-Encoding: {encoding}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let header = |name: &str| {
        head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    };
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (
        status,
        header("content-encoding"),
        answer[split + 4..].to_vec(),
        header("vary"),
    )
}

#[test]
fn answers_are_kept_and_sent_compressed_as_asked() {
    let base = start();
    let url = format!("{base}/v1/ports/6000-6100?all=true");
    let plain = get(&url).body;
    let (status, coding, body, vary) = raw(&url, "gzip");
    assert_eq!((status, coding.as_deref()), (200, Some("gzip")));
    assert_eq!(vary.as_deref(), Some("accept-encoding"));
    let mut text = String::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, plain);
    let (_, coding, body, _) = raw(&url, "br;q=1.0, gzip;q=0.5");
    assert_eq!(coding.as_deref(), Some("br"));
    let mut text = String::new();
    brotli::Decompressor::new(&body[..], 4096)
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, plain);
    // Refused codings are not sent.
    let (_, coding, _, _) = raw(&url, "br;q=0, gzip;q=0");
    assert_eq!(coding, None);
    // The same answer again, kept, with its ETag and caching headers.
    let again = get_with(&url, &[]);
    assert_eq!(again.body, plain);
    assert!(again.header("etag").is_some());
    // A small answer is sent plain even to a client that takes gzip.
    let (_, coding, _, _) = raw(&format!("{base}/healthz"), "gzip");
    assert_eq!(coding, None);
    let (_, coding, _, _) = raw(&format!("{base}/v1/registry"), "gzip");
    assert_eq!(
        coding, None,
        "a few hundred bytes are not worth compressing"
    );
}
