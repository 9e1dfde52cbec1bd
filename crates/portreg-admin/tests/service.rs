//! `portreg serve --authority` and `--follow` over loopback, as clients and replicas use
//! them: the whole request flow, every error status, experts racing for one port, and a
//! replica following its source through approvals, outages and garbage.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portreg_testing::{shared_arg, TempDb};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_portreg-admin");

/// A server process, killed when dropped.
struct Server {
    child: Child,
    base: String,
    /// Its data directory, removed with it unless kept.
    data: std::path::PathBuf,
    keep_data: bool,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !self.keep_data {
            let _ = std::fs::remove_dir_all(&self.data);
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `portreg-admin serve ARGS` and waits for `/healthz`.
fn serve(args: &[&str]) -> Server {
    serve_at(&format!("127.0.0.1:{}", free_port()), args, None)
}

/// Starts `portreg-admin serve ARGS --listen LISTEN`, its log written to `log`, and waits
/// until `/healthz` answers (a replica answers 503 until its first fetch). Its data
/// directory (a replica's heads) is a folder of the test's own.
fn serve_at(listen: &str, args: &[&str], log: Option<&std::path::Path>) -> Server {
    let data = std::env::temp_dir().join(format!(
        "portreg-test-serve-data-{}-{}",
        std::process::id(),
        listen.replace([':', '.'], "-")
    ));
    serve_in(listen, args, log, data, false)
}

/// As [`serve_at`], with the data directory `data` (kept when `keep_data`: a replica
/// restarted remembers what it witnessed).
fn serve_in(
    listen: &str,
    args: &[&str],
    log: Option<&std::path::Path>,
    data: std::path::PathBuf,
    keep_data: bool,
) -> Server {
    let stderr = match log {
        Some(path) => Stdio::from(std::fs::File::create(path).unwrap()),
        None => Stdio::null(),
    };
    let mut command = Command::new(BIN);
    portreg_testing::isolate(&mut command, &data.join("sandbox"));
    let child = command
        .arg("serve")
        .args(args)
        .args(["--listen", listen])
        .env("RUST_LOG", if log.is_some() { "info" } else { "warn" })
        .env("PORTREG_DATA_DIR", &data)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let server = Server {
        child,
        base: format!("http://{listen}"),
        data,
        keep_data,
    };
    let started = Instant::now();
    while call(&server.base, "GET", "/healthz", None, None).0 == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the server did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// One request: status, JSON body (or Null), headers.
fn call(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, Value, Vec<(String, String)>) {
    call_as(base, method, path, token, body, "application/json")
}

/// `GET base + path` without a token.
/// A server's `/metrics` text.
fn metrics(base: &str) -> String {
    ureq::get(format!("{base}/metrics"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap()
}

fn get(base: &str, path: &str) -> (u16, Value, Vec<(String, String)>) {
    call(base, "GET", path, None, None)
}

fn call_as(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
    content_type: &str,
) -> (u16, Value, Vec<(String, String)>) {
    call_with(
        base,
        method,
        path,
        token,
        body,
        &[("Content-Type", content_type)],
    )
}

fn call_with(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
    headers: &[(&str, &str)],
) -> (u16, Value, Vec<(String, String)>) {
    let agent = agent();
    let url = format!("{base}{path}");
    let mut request = ureq::http::Request::builder().method(method).uri(&url);
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let result = match body {
        Some(body) => agent.run(request.body(body.as_bytes().to_vec()).unwrap()),
        None => agent.run(request.body(Vec::new()).unwrap()),
    };
    let Ok(mut response) = result else {
        return (0, Value::Null, Vec::new());
    };
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        headers,
    )
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn authority(db: &str, args: &[&str]) -> String {
    let output = portreg_testing::Sandbox::new()
        .command(BIN)
        .args(["authority", "--db", db])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn user(db: &str, name: &str, role: &str, extra: &[&str]) -> String {
    let mut args = vec!["user", "add", name, "--role", role];
    args.extend_from_slice(extra);
    authority(db, &args)
}

fn request_body(name: &str, port: u16) -> String {
    json!({"name": name, "transport": "tcp", "port": port, "description": "test service",
           "assignee": "Test team", "contact": "test@example.org"})
    .to_string()
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn the_whole_flow_and_every_error_status() {
    let (_db, path) = empty_store("http-flow");
    let ada = user(&path, "ada", "requester", &["--email", "ada@example.org"]);
    let bob = user(&path, "bob", "requester", &[]);
    let eve = user(&path, "eve", "expert", &["--email", "eve@example.org"]);
    let max = user(&path, "max", "expert", &[]);
    let root = user(&path, "root", "admin", &[]);
    // A token that expires in a second (an expiry in the past is refused when made).
    let old = user(&path, "old", "expert", &["--ttl", "1"]);
    std::thread::sleep(Duration::from_millis(1100));
    let server = serve(&["--authority", &path, "--rate-limit", "1000"]);
    let b = server.base.as_str();
    let post =
        |path: &str, token: Option<&str>, body: &str| call(b, "POST", path, token, Some(body));

    // 401: no token, a bad one, an expired one; with the challenge.
    let (status, problem, headers) = post("/v1/requests", None, &request_body("zq-one", 40401));
    assert_eq!((status, problem["status"].as_u64()), (401, Some(401)));
    assert!(header(&headers, "www-authenticate").is_some_and(|v| v.starts_with("Bearer")));
    assert_eq!(
        post(
            "/v1/requests",
            Some("portreg_nope"),
            &request_body("zq-one", 40401)
        )
        .0,
        401
    );
    assert_eq!(
        post("/v1/requests", Some(&old), &request_body("zq-one", 40401)).0,
        401
    );

    // 201 and the request's own answer.
    let (status, filed, headers) = post("/v1/requests", Some(&ada), &request_body("zq-one", 40401));
    assert_eq!(status, 201, "{filed}");
    assert_eq!(
        (filed["state"].as_str(), filed["requester"].as_str()),
        (Some("pending"), Some("ada"))
    );
    let id = filed["id"].as_i64().unwrap();
    assert_eq!(
        header(&headers, "location"),
        Some(format!("/v1/requests/{id}").as_str())
    );

    // 415, 413, 400, 422 (unknown field, missing field, bad name, taken port): each named.
    assert_eq!(
        call_as(
            b,
            "POST",
            "/v1/requests",
            Some(&ada),
            Some("name=x"),
            "text/plain"
        )
        .0,
        415
    );
    let huge = json!({"name": "zq-big", "description": "x".repeat(20_000)}).to_string();
    assert_eq!(post("/v1/requests", Some(&ada), &huge).0, 413);
    assert_eq!(post("/v1/requests", Some(&ada), "{not json").0, 400);
    let mut unknown: Value = serde_json::from_str(&request_body("zq-two", 40402)).unwrap();
    unknown["color"] = json!("red");
    for (body, field) in [
        (unknown.to_string(), "color"),
        (json!({"name": "zq-two", "transport": "tcp"}).to_string(), "description"),
        (request_body("zq--bad", 40402), "name"),
        (request_body("zq-dyn", 50000), "port"),
        (json!({"name": "zq-two", "transport": "tcp", "port": 70000, "description": "d", "assignee": "a", "contact": "c"}).to_string(), "port"),
        (json!({"name": "zq-two", "transport": "ftp", "port": 40402, "description": "d", "assignee": "a", "contact": "c"}).to_string(), "transport"),
    ] {
        let (status, problem, _) = post("/v1/requests", Some(&ada), &body);
        assert_eq!((status, problem["field"].as_str()), (422, Some(field)), "{body}: {problem}");
    }

    // Requests are seen by their requester and by experts only.
    assert_eq!(
        call(b, "GET", &format!("/v1/requests/{id}"), Some(&ada), None).0,
        200
    );
    assert_eq!(
        call(b, "GET", &format!("/v1/requests/{id}"), Some(&bob), None).0,
        404
    );
    let (_, listed, _) = call(b, "GET", "/v1/requests?state=pending", Some(&bob), None);
    assert_eq!(listed, json!([]));
    let (_, queue, _) = call(b, "GET", "/v1/requests?state=pending", Some(&eve), None);
    assert_eq!(queue.as_array().map(Vec::len), Some(1));
    assert_eq!(
        call(b, "GET", "/v1/requests?state=lost", Some(&eve), None).0,
        400
    );

    // 403: a requester reviewing; an expert named as contact reviewing.
    let review = |token: &str, decision: &str| {
        post(
            &format!("/v1/requests/{id}/review"),
            Some(token),
            &json!({"decision": decision, "comment": "c"}).to_string(),
        )
    };
    assert_eq!(review(&ada, "approve").0, 403);
    let (status, problem, _) = post(
        "/v1/requests",
        Some(&bob),
        &json!({"name": "zq-eve", "transport": "udp", "port": 40403, "description": "d",
                "assignee": "Team", "contact": "Eve <eve@example.org>"})
        .to_string(),
    );
    assert_eq!(status, 201, "{problem}");
    let eves = problem["id"].as_i64().unwrap();
    let (status, problem, _) = post(
        &format!("/v1/requests/{eves}/review"),
        Some(&eve),
        r#"{"decision":"approve"}"#,
    );
    assert_eq!(status, 403, "{problem}");
    assert_eq!(review(&eve, "maybe").0, 422);

    // Changes asked, the requester amends (checked again), back to pending, approved.
    let (status, sent_back, _) = review(&eve, "changes");
    assert_eq!(
        (status, sent_back["state"].as_str()),
        (200, Some("changes-requested"))
    );
    let amend = |token: &str, body: &str| {
        call(
            b,
            "PATCH",
            &format!("/v1/requests/{id}"),
            Some(token),
            Some(body),
        )
    };
    assert_eq!(amend(&bob, r#"{"description":"x"}"#).0, 404);
    assert_eq!(amend(&ada, r#"{"port":50001}"#).0, 422);
    let (status, amended, _) = amend(&ada, r#"{"description":"the one service"}"#);
    assert_eq!(
        (status, amended["state"].as_str()),
        (200, Some("pending")),
        "{amended}"
    );
    // The expert read the request as filed: amended since, it is not approved unread.
    let (status, stale, _) = review(&eve, "approve");
    assert_eq!(status, 409, "{stale}");
    assert_eq!(amended["version"], 2);
    let (status, approved, _) = call(
        b,
        "POST",
        &format!("/v1/requests/{id}/review"),
        Some(&eve),
        Some(r#"{"decision":"approve","version":2}"#),
    );
    assert_eq!(
        (status, approved["state"].as_str()),
        (200, Some("approved")),
        "{approved}"
    );
    assert_eq!(
        review(&max, "deny").0,
        409,
        "a decided request is not decided again"
    );

    // The approval is public at once; its history is public, the request's detail not.
    let (status, records, _) = call(b, "GET", "/v1/services/zq-one", None, None);
    assert_eq!(status, 200);
    assert_eq!(records[0]["port_low"], 40401);
    let (_, public, _) = call(b, "GET", "/v1/history?subject=zq-one", None, None);
    let actions: Vec<&str> = public
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions, ["approve"]);
    let (_, by_port, _) = call(b, "GET", "/v1/history?subject=40401", None, None);
    assert_eq!(
        by_port, public,
        "a port's history finds its name's decisions"
    );
    let (_, everything, _) = call(b, "GET", "/v1/history?subject=zq-one", Some(&eve), None);
    assert!(everything.as_array().unwrap().len() > 1);
    assert_eq!(
        call(b, "GET", "/v1/history?since=yesterday", None, None).0,
        400
    );

    // Withdraw: only one's own open request.
    let (_, second, _) = post("/v1/requests", Some(&ada), &request_body("zq-three", 40404));
    let second = second["id"].as_i64().unwrap();
    assert_eq!(
        post(&format!("/v1/requests/{second}/withdraw"), Some(&bob), "{}").0,
        404
    );
    let (status, withdrawn, _) = post(&format!("/v1/requests/{second}/withdraw"), Some(&ada), "{}");
    assert_eq!(
        (status, withdrawn["state"].as_str()),
        (200, Some("withdrawn"))
    );
    assert_eq!(
        post(&format!("/v1/requests/{second}/withdraw"), Some(&ada), "{}").0,
        409
    );

    // Records: administrators only; a reuse likewise.
    let transfer = json!({"to": "New team"}).to_string();
    assert_eq!(
        post("/v1/records/zq-one/transfer", Some(&eve), &transfer).0,
        403
    );
    assert_eq!(
        post("/v1/records/zq-one/transfer", Some(&root), &transfer).0,
        200
    );
    assert_eq!(post("/v1/records/zq-one/explode", Some(&root), "{}").0, 404);
    let (status, _, _) = post(
        "/v1/records/zq-one/deassign",
        Some(&root),
        r#"{"reason":"retired"}"#,
    );
    assert_eq!(status, 200);
    assert_eq!(
        call(b, "GET", "/v1/services/zq-one", None, None).0,
        404,
        "the de-assignment is public at once"
    );
    let mut reuse: Value = serde_json::from_str(&request_body("zq-again", 40401)).unwrap();
    reuse["reuse"] = json!(true);
    assert_eq!(post("/v1/requests", Some(&ada), &reuse.to_string()).0, 403);

    // Identities over HTTP: administrators only; a revoked token is a 401 at once.
    assert_eq!(call(b, "GET", "/v1/users", Some(&eve), None).0, 403);
    let (status, made, _) = post(
        "/v1/users",
        Some(&root),
        r#"{"name":"zed","role":"requester"}"#,
    );
    assert_eq!(status, 201);
    let zed = made["token"].as_str().unwrap().to_owned();
    assert_eq!(call(b, "GET", "/v1/requests", Some(&zed), None).0, 200);
    assert_eq!(call(b, "DELETE", "/v1/users/zed", Some(&root), None).0, 200);
    assert_eq!(call(b, "GET", "/v1/requests", Some(&zed), None).0, 401);

    // /metrics on loopback; the OpenAPI document has the routes and the scheme.
    let metrics = metrics(b);
    assert!(
        metrics.contains("portreg_http_requests_total{route=\"/v1/requests\",status=\"201\"}"),
        "{metrics}"
    );
    let (_, document, _) = call(b, "GET", "/openapi.json", None, None);
    assert_eq!(
        document["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    for route in [
        "/v1/requests",
        "/v1/requests/{id}/review",
        "/v1/history",
        "/v1/records/{name}/transfer",
    ] {
        assert!(
            document["paths"][route].is_object(),
            "{route} is documented"
        );
    }
    drop(server);
    let verified = portreg_testing::Sandbox::new()
        .command(BIN)
        .args(["authority", "--db", &path, "verify"])
        .output()
        .unwrap();
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
}

#[test]
fn a_session_changes_nothing_without_its_csrf_token() {
    let (_db, path) = empty_store("http-session");
    let ada = user(&path, "ada", "requester", &[]);
    let server = serve(&["--authority", &path]);
    let b = server.base.as_str();
    assert_eq!(
        call(
            b,
            "POST",
            "/v1/session",
            None,
            Some(r#"{"token":"portreg_nope"}"#)
        )
        .0,
        401
    );
    let (status, signed_in, headers) = call(
        b,
        "POST",
        "/v1/session",
        None,
        Some(&json!({"token": ada}).to_string()),
    );
    assert_eq!((status, signed_in["name"].as_str()), (200, Some("ada")));
    let cookie = header(&headers, "set-cookie").unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_owned();
    let csrf = signed_in["csrf"].as_str().unwrap().to_owned();
    let json = ("Content-Type", "application/json");
    let body = request_body("zq-session", 40801);
    let (status, _, _) = call_with(
        b,
        "POST",
        "/v1/requests",
        None,
        Some(&body),
        &[json, ("Cookie", &session)],
    );
    assert_eq!(status, 403, "a change without the CSRF token");
    let (status, _, _) = call_with(
        b,
        "POST",
        "/v1/requests",
        None,
        Some(&body),
        &[json, ("Cookie", &session), ("X-CSRF-Token", "forged")],
    );
    assert_eq!(status, 403);
    let (status, filed, _) = call_with(
        b,
        "POST",
        "/v1/requests",
        None,
        Some(&body),
        &[json, ("Cookie", &session), ("X-CSRF-Token", &csrf)],
    );
    assert_eq!((status, filed["requester"].as_str()), (201, Some("ada")));
    let (status, mine, _) = call_with(b, "GET", "/v1/session", None, None, &[("Cookie", &session)]);
    assert_eq!((status, mine["csrf"].as_str()), (200, Some(csrf.as_str())));
    // Signing out is a change too: without the CSRF token, another site cannot end it.
    assert_eq!(
        call_with(
            b,
            "DELETE",
            "/v1/session",
            None,
            None,
            &[("Cookie", &session)]
        )
        .0,
        403
    );
    assert_eq!(
        call_with(
            b,
            "DELETE",
            "/v1/session",
            None,
            None,
            &[("Cookie", &session), ("X-CSRF-Token", &csrf)]
        )
        .0,
        204
    );
    assert_eq!(
        call_with(
            b,
            "GET",
            "/v1/requests",
            None,
            None,
            &[("Cookie", &session)]
        )
        .0,
        401
    );
}

#[test]
fn over_the_rate_limit_is_429_with_retry_after() {
    let (_db, path) = empty_store("http-rate");
    let ada = user(&path, "ada", "requester", &[]);
    let server = serve(&["--authority", &path, "--rate-limit", "1"]);
    let statuses: Vec<(u16, Option<String>)> = (0..8)
        .map(|_| {
            let (status, _, headers) = call(&server.base, "GET", "/v1/requests", Some(&ada), None);
            (status, header(&headers, "retry-after").map(str::to_owned))
        })
        .collect();
    assert_eq!(statuses[0].0, 200);
    let limited = statuses
        .iter()
        .find(|(s, _)| *s == 429)
        .expect("a 429 within 8 quick requests at 1/s");
    assert!(
        limited
            .1
            .as_deref()
            .is_some_and(|s| s.parse::<u64>().is_ok_and(|s| s >= 1)),
        "{limited:?}"
    );
    // Another identity has its own allowance.
    let bob = user(&path, "bob", "requester", &[]);
    assert_eq!(
        call(&server.base, "GET", "/v1/requests", Some(&bob), None).0,
        200
    );
}

#[test]
fn eight_experts_race_for_one_port_and_one_wins() {
    let (_db, path) = empty_store("http-race");
    let requester = user(&path, "filer", "requester", &[]);
    let experts: Vec<String> = (0..8)
        .map(|i| user(&path, &format!("expert{i}"), "expert", &[]))
        .collect();
    let server = serve(&["--authority", &path, "--rate-limit", "1000"]);
    let ids: Vec<i64> = (0..8)
        .map(|i| {
            let (status, filed, _) = call(
                &server.base,
                "POST",
                "/v1/requests",
                Some(&requester),
                Some(&request_body(&format!("zq-race{i}"), 40500)),
            );
            assert_eq!(status, 201, "{filed}");
            filed["id"].as_i64().unwrap()
        })
        .collect();
    let barrier = Arc::new(std::sync::Barrier::new(8));
    let threads: Vec<_> = ids
        .into_iter()
        .zip(experts)
        .map(|(id, token)| {
            let base = server.base.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                call(
                    &base,
                    "POST",
                    &format!("/v1/requests/{id}/review"),
                    Some(&token),
                    Some(r#"{"decision":"approve"}"#),
                )
                .0
            })
        })
        .collect();
    let mut statuses: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409, 409, 409, 409, 409, 409, 409]);
    let (_, records, _) = call(
        &server.base,
        "GET",
        "/v1/ports/40500?transport=tcp",
        None,
        None,
    );
    assert_eq!(records.as_array().map(Vec::len), Some(1), "{records}");
}

#[test]
fn follow_and_authority_do_not_combine() {
    let output = portreg_testing::Sandbox::new()
        .command(BIN)
        .args([
            "serve",
            "--authority",
            "x.sqlite",
            "--follow",
            "http://127.0.0.1:1/v1/registry.bin",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("read-only"));
}

#[test]
fn a_follower_that_has_never_fetched_is_not_healthy() {
    // Nothing listens on the port followed.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let replica = serve(&["--follow", &dead, "--interval", "1"]);
    let mut health = get(&replica.base, "/healthz");
    wait_for("a failed fetch", Duration::from_secs(15), || {
        health = get(&replica.base, "/healthz");
        health.1["follow"]["failures"].as_u64().unwrap_or(0) > 0
    });
    let (status, body, _) = health;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "unhealthy");
    assert!(
        body["reason"]
            .as_str()
            .unwrap_or("")
            .contains("no registry fetched"),
        "{body}"
    );
    // The base URL means the server's compiled registry.
    assert_eq!(
        body["follow"]["source"],
        json!(format!("{dead}/v1/registry.bin"))
    );
}

/// An empty store, made with `authority init`.
fn empty_store(name: &str) -> (TempDb, String) {
    let db = TempDb::new(name);
    let path = db.arg();
    authority(&path, &["init"]);
    (db, path)
}

/// A store loaded with IANA's registry, so that a replica (which starts on the built-in
/// registry) takes what it serves as `update` would.
fn iana_store(name: &str) -> Option<(TempDb, String)> {
    let xml = shared_arg("data/iana/service-names-port-numbers.xml")?;
    let db = TempDb::new(name);
    let path = db.arg();
    authority(&path, &["init", "--from", &xml]);
    Some((db, path))
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    started.elapsed()
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn a_follower_sees_an_approval_within_one_interval() {
    let Some((_db, path)) = iana_store("http-follow") else {
        return;
    };
    let requester = user(&path, "filer", "requester", &[]);
    let expert = user(&path, "judge", "expert", &[]);
    let primary = serve(&["--authority", &path]);
    let source = format!("{}/v1/registry.bin", primary.base);
    let replica = serve(&["--follow", &source, "--interval", "1"]);
    wait_for("the first fetch", Duration::from_secs(30), || {
        call(&replica.base, "GET", "/healthz", None, None).1["follow"]["last_successful_fetch"]
            .is_string()
    });
    let (_, filed, _) = call(
        &primary.base,
        "POST",
        "/v1/requests",
        Some(&requester),
        Some(&request_body("zq-follow", 40600)),
    );
    let id = filed["id"].as_i64().unwrap();
    let (status, _, _) = call(
        &primary.base,
        "POST",
        &format!("/v1/requests/{id}/review"),
        Some(&expert),
        Some(r#"{"decision":"approve"}"#),
    );
    assert_eq!(status, 200);
    // One interval, and the time a fetch and a compile take on a loaded machine.
    let seen = wait_for(
        "the approval on the replica",
        Duration::from_secs(10),
        || call(&replica.base, "GET", "/v1/services/zq-follow", None, None).0 == 200,
    );
    eprintln!("the replica served the approval {seen:?} after it was made (interval 1 s)");
    let (_, health, _) = call(&replica.base, "GET", "/healthz", None, None);
    assert_eq!(health["follow"]["stale"], false, "{health}");
    assert!(health["registry"]["updated"].is_string());
    let (status, _, headers) = call(&primary.base, "GET", "/v1/registry.bin", None, None);
    assert_eq!(status, 200);
    let etag = header(&headers, "etag").unwrap().to_owned();
    let conditional = agent()
        .get(&source)
        .header("If-None-Match", &etag)
        .call()
        .unwrap();
    assert_eq!(conditional.status().as_u16(), 304);
    let metrics = metrics(&replica.base);
    assert!(metrics.contains("portreg_follow_swaps_total"), "{metrics}");
}

/// What the test's own source serves.
#[derive(Clone, Copy, PartialEq)]
enum Serving {
    Whole,
    Truncated,
    Garbage,
    Down,
}

/// A registry source the test controls: the whole compiled registry, a truncated copy,
/// garbage, or no answer at all (the connection closed at once).
fn source(bytes: Vec<u8>, mode: Arc<Mutex<Serving>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let serving = *mode.lock().unwrap();
            let body: &[u8] = match serving {
                Serving::Whole => &bytes,
                Serving::Truncated => &bytes[..bytes.len() / 2],
                Serving::Garbage => b"<html>502 Bad Gateway</html>",
                Serving::Down => continue,
            };
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body);
        }
    });
    format!("http://{address}/v1/registry.bin")
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn a_follower_keeps_answering_while_its_source_dies_and_lies() {
    let Some((_db, path)) = iana_store("http-source") else {
        return;
    };
    let primary = serve(&["--authority", &path]);
    let agent = agent();
    let mut whole = Vec::new();
    agent
        .get(format!("{}/v1/registry.bin", primary.base))
        .call()
        .unwrap()
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .reader()
        .read_to_end(&mut whole)
        .unwrap();
    drop(primary);
    let mode = Arc::new(Mutex::new(Serving::Whole));
    let url = source(whole, mode.clone());
    let replica = serve(&["--follow", &url, "--interval", "1"]);
    let health = || call(&replica.base, "GET", "/healthz", None, None).1;
    wait_for("the first fetch", Duration::from_secs(30), || {
        health()["follow"]["swaps"] == 1
    });

    // Clients read all along; not one request may fail.
    let stop = Arc::new(AtomicBool::new(false));
    let (answered, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (base, stop, answered, failed) = (
                replica.base.clone(),
                stop.clone(),
                answered.clone(),
                failed.clone(),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let (status, body, _) = call(&base, "GET", "/v1/ports/22", None, None);
                    if status == 200 && body[0]["name"] == "ssh" {
                        answered.fetch_add(1, Ordering::Relaxed);
                    } else {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for serving in [
        Serving::Down,
        Serving::Truncated,
        Serving::Garbage,
        Serving::Whole,
    ] {
        let failures = health()["follow"]["failures"].as_u64().unwrap_or(0);
        *mode.lock().unwrap() = serving;
        if serving == Serving::Whole {
            wait_for("recovery", Duration::from_secs(15), || {
                health()["follow"]["last_error"].is_null()
            });
        } else {
            wait_for("a refused fetch", Duration::from_secs(15), || {
                health()["follow"]["failures"].as_u64().unwrap_or(0) > failures
            });
        }
    }
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        reader.join().unwrap();
    }
    assert_eq!(failed.load(Ordering::Relaxed), 0);
    assert!(answered.load(Ordering::Relaxed) > 0);
    let report = health();
    assert!(
        report["follow"]["failures"].as_u64().unwrap_or(0) >= 3,
        "{report}"
    );
    assert_eq!(
        report["registry"]["records"],
        json!(14_499),
        "the last good registry is served"
    );
}

/// What an attacker holding the store's file does: edits an entry of the log, then
/// hashes the whole chain again (head and all), so that the store alone cannot tell.
fn rewrite_chain(path: &str) {
    use sha2::{Digest, Sha256};
    let c = rusqlite::Connection::open(path).unwrap();
    c.execute_batch(
        "DROP TRIGGER audit_is_append_only_update; DROP TRIGGER audit_is_append_only_delete;
         UPDATE audit SET detail = 'forged' WHERE id = 2;",
    )
    .unwrap();
    let rows: Vec<(i64, [String; 6], Option<String>)> = c
        .prepare("SELECT id, at, actor, action, subject, outcome, detail, changes FROM audit ORDER BY id")
        .unwrap()
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                [r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?],
                r.get(7)?,
            ))
        })
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let mut previous = String::new();
    let mut last = 0;
    for (id, [at, actor, action, subject, outcome, detail], changes) in rows {
        let mut hasher = Sha256::new();
        hasher.update(previous.as_bytes());
        hasher.update(b"\n");
        hasher.update(json!([id, at, actor, action, subject, outcome, detail]).to_string());
        if let Some(changes) = changes {
            hasher.update(b"\n");
            hasher.update(changes.as_bytes());
        }
        previous = format!("{:x}", hasher.finalize());
        last = id;
        c.execute(
            "UPDATE audit SET hash = ?1 WHERE id = ?2",
            rusqlite::params![previous, id],
        )
        .unwrap();
    }
    c.execute(
        "UPDATE meta SET value = ?1 WHERE key = 'audit_head'",
        [format!("{last}:{previous}")],
    )
    .unwrap();
}

/// Files `name` on `port` as `requester` and has `expert` approve it.
fn approve(base: &str, requester: &str, expert: &str, name: &str, port: u16) {
    let (status, filed, _) = call(
        base,
        "POST",
        "/v1/requests",
        Some(requester),
        Some(&request_body(name, port)),
    );
    assert_eq!(status, 201, "{filed}");
    let id = filed["id"].as_i64().unwrap();
    let (status, body, _) = call(
        base,
        "POST",
        &format!("/v1/requests/{id}/review"),
        Some(expert),
        Some(r#"{"decision":"approve"}"#),
    );
    assert_eq!(status, 200, "{body}");
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn a_follower_witnesses_the_log_and_refuses_a_rewritten_one() {
    let Some((_db, path)) = iana_store("http-witness") else {
        return;
    };
    let requester = user(&path, "filer", "requester", &[]);
    let expert = user(&path, "judge", "expert", &[]);
    let key = authority(&path, &["key"]);
    assert_eq!(key.len(), 64, "{key}");
    let listen = format!("127.0.0.1:{}", free_port());
    let primary = serve_at(&listen, &["--authority", &path], None);
    let (status, served, _) = get(&primary.base, "/v1/authority/key");
    assert_eq!((status, served["key"].as_str()), (200, Some(key.as_str())));
    let (status, head, _) = get(&primary.base, "/v1/log/head");
    assert_eq!(status, 200, "{head}");
    assert_eq!(head["key"], json!(key));

    // The follower is given the server's base URL alone, and the authority's key.
    let key_file = std::env::temp_dir().join(format!("portreg-test-key-{}", std::process::id()));
    std::fs::write(&key_file, &key).unwrap();
    let replica = serve(&[
        "--follow",
        &primary.base,
        "--interval",
        "1",
        "--authority-key",
        &key_file.display().to_string(),
    ]);
    let health = || get(&replica.base, "/healthz");
    wait_for("the first fetch", Duration::from_secs(30), || {
        health().0 == 200
    });
    // Two honest approvals: the second head is taken with a consistency proof from the
    // first.
    for (name, port) in [("zq-witness-a", 40610), ("zq-witness-b", 40611)] {
        approve(&primary.base, &requester, &expert, name, port);
        wait_for(
            "the approval on the replica",
            Duration::from_secs(15),
            || get(&replica.base, &format!("/v1/services/{name}")).0 == 200,
        );
    }
    let (status, proof, _) = get(&primary.base, "/v1/log/proof/consistency?from=2&to=5");
    assert_eq!(status, 200, "{proof}");
    let (status, inclusion, _) = get(&primary.base, "/v1/log/proof/inclusion?entry=3");
    assert_eq!(status, 200, "{inclusion}");
    let (status, entries, _) = get(&primary.base, "/v1/log/entries?start=1&end=3");
    assert_eq!(status, 200);
    assert!(
        entries[0]["changes"].is_null(),
        "the public sees no rows: {entries}"
    );

    // The store rewritten offline, its chain hashed anew: the server refuses to start
    // on it (the entries' signatures are not the key's), and the follower goes on
    // serving what it had.
    drop(primary);
    rewrite_chain(&path);
    let refused = portreg_testing::Sandbox::new()
        .command(BIN)
        .args(["serve", "--authority", &path, "--listen", &listen])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let said = String::from_utf8_lossy(&refused.stderr).into_owned();
    assert!(said.contains("not signed"), "{said}");
    assert_eq!(
        get(&replica.base, "/v1/services/zq-witness-b").0,
        200,
        "the last good registry is served"
    );
    let _ = std::fs::remove_file(&key_file);
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn verify_against_a_server_checks_one_log_extends_the_other() {
    let Some((db, path)) = iana_store("http-against") else {
        return;
    };
    let requester = user(&path, "filer", "requester", &[]);
    let expert = user(&path, "judge", "expert", &[]);
    let primary = serve(&["--authority", &path]);
    approve(&primary.base, &requester, &expert, "zq-against", 40620);
    // A copy of the store taken now is a prefix of the server's log as it grows.
    let copy = TempDb::new("http-against-copy");
    let copy_path = copy.arg();
    let backup = portreg_testing::Sandbox::new()
        .command(BIN)
        .args(["authority", "--db", &path, "backup", &copy_path])
        .output()
        .unwrap();
    assert!(backup.status.success());
    std::fs::copy(format!("{path}.key"), format!("{copy_path}.key")).unwrap();
    approve(&primary.base, &requester, &expert, "zq-against-2", 40621);
    let verify = |db: &str| {
        portreg_testing::Sandbox::new()
            .command(BIN)
            .args([
                "authority",
                "--db",
                db,
                "verify",
                "--against",
                &primary.base,
            ])
            .output()
            .unwrap()
    };
    let output = verify(&copy_path);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = verify(&path);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The copy rewritten, its chain hashed anew: the entries' signatures tell, on its
    // own and against the server.
    rewrite_chain(&copy_path);
    let alone = portreg_testing::Sandbox::new()
        .command(BIN)
        .args(["authority", "--db", &copy_path, "verify"])
        .output()
        .unwrap();
    assert_eq!(alone.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&alone.stderr).contains("signature"),
        "{}",
        String::from_utf8_lossy(&alone.stderr)
    );
    let output = verify(&copy_path);
    assert_eq!(output.status.code(), Some(1));
    drop(db);
}

#[test]
fn parties_are_compared_as_people_and_fields_take_no_control_characters() {
    let (_db, path) = empty_store("http-parties");
    let rita = user(&path, "rita", "requester", &[]);
    let alice = user(&path, "alice", "expert", &["--email", "alice@example.org"]);
    // One person, one identity: a case or look-alike twin is refused.
    for twin in ["Alice", "ａlice"] {
        let output = portreg_testing::Sandbox::new()
            .command(BIN)
            .args([
                "authority",
                "--db",
                &path,
                "user",
                "add",
                twin,
                "--role",
                "requester",
            ])
            .output()
            .unwrap();
        assert!(!output.status.success(), "{twin}");
    }
    let expired = portreg_testing::Sandbox::new()
        .command(BIN)
        .args([
            "authority",
            "--db",
            &path,
            "user",
            "add",
            "old",
            "--role",
            "requester",
            "--expires",
            "2001-01-01",
        ])
        .output()
        .unwrap();
    assert_eq!(
        expired.status.code(),
        Some(2),
        "an expiry in the past is a usage error"
    );

    let log = std::env::temp_dir().join(format!("portreg-test-parties-{}.log", std::process::id()));
    let server = serve_at(
        &format!("127.0.0.1:{}", free_port()),
        &["--authority", &path],
        Some(&log),
    );
    let variants = [
        ("ａlice", "R"),
        ("аlice", "R"),
        ("al\u{200b}ice", "R"),
        ("A\u{200d}lice", "R"),
        ("Alice_Smith", "R"),
        ("R", "alice+portreg@example.org"),
        ("R", "alice@exаmple.org"),
    ];
    for (index, (assignee, contact)) in variants.into_iter().enumerate() {
        let body = json!({"name": format!("zq-party-{index}"), "transport": "tcp", "port": 40700 + index,
                          "description": "d", "assignee": assignee, "contact": contact});
        let (status, filed, _) = call(
            &server.base,
            "POST",
            "/v1/requests",
            Some(&rita),
            Some(&body.to_string()),
        );
        assert_eq!(status, 201, "{filed}");
        let id = filed["id"].as_i64().unwrap();
        let (status, _, _) = call(
            &server.base,
            "POST",
            &format!("/v1/requests/{id}/review"),
            Some(&alice),
            Some(r#"{"decision":"approve"}"#),
        );
        assert_eq!(status, 403, "{assignee:?} / {contact:?}");
    }
    // Control characters, in every field, are 422 naming the field.
    for field in [
        "description",
        "assignee",
        "contact",
        "reference",
        "txt_keys",
    ] {
        let mut body = json!({"name": "zq-nul", "transport": "tcp", "port": 40720, "description": "d",
                              "assignee": "R", "contact": "R"});
        body[field] = json!("a\u{0}b");
        let (status, problem, _) = call(
            &server.base,
            "POST",
            "/v1/requests",
            Some(&rita),
            Some(&body.to_string()),
        );
        assert_eq!(status, 422, "{field}: {problem}");
        assert_eq!(problem["field"], json!(field), "{problem}");
    }
    // Duplicated transports are one; a port with any_port is refused.
    let body = json!({"name": "zq-dup", "transport": ["tcp", "tcp", "TCP"], "port": 40721,
                      "description": "d", "assignee": "R", "contact": "R"});
    let (status, filed, _) = call(
        &server.base,
        "POST",
        "/v1/requests",
        Some(&rita),
        Some(&body.to_string()),
    );
    assert!(status == 201 || status == 422, "{filed}");
    if status == 201 {
        assert_eq!(filed["transports"], json!(["tcp"]), "{filed}");
    }
    let body = json!({"name": "zq-both", "transport": "tcp", "port": 40722, "any_port": true,
                      "description": "d", "assignee": "R", "contact": "R"});
    let (status, problem, _) = call(
        &server.base,
        "POST",
        "/v1/requests",
        Some(&rita),
        Some(&body.to_string()),
    );
    assert_eq!(status, 422, "{problem}");
    // Any port, found from the index.
    let body = json!({"name": "zq-any", "transport": "tcp", "any_port": true,
                      "description": "d", "assignee": "R", "contact": "R"});
    let started = Instant::now();
    let (status, filed, _) = call(
        &server.base,
        "POST",
        "/v1/requests",
        Some(&rita),
        Some(&body.to_string()),
    );
    eprintln!("a request for any port filed in {:?}", started.elapsed());
    assert_eq!(status, 201, "{filed}");
    // The scheme's name in any case; no secret in the access log.
    let (status, _, _) = call_with(
        &server.base,
        "GET",
        "/v1/requests",
        None,
        None,
        &[("Authorization", &format!("bearer {rita}"))],
    );
    assert_eq!(status, 200);
    get(
        &server.base,
        "/v1/requests?access_token=zqsecretzq&state=pending",
    );
    get(&server.base, "/v1/requests?Token=zqsecret2zq");
    std::thread::sleep(Duration::from_millis(300));
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("REDACTED"), "{logged}");
    assert!(
        !logged.contains("zqsecretzq") && !logged.contains("zqsecret2zq"),
        "{logged}"
    );
    drop(server);
    let _ = std::fs::remove_file(&log);
}

/// Idle sockets to `base` from another loopback address of the machine's own, `from`.
fn idle_sockets(base: &str, from: &str, count: usize) -> Vec<TcpStream> {
    let target: std::net::SocketAddr = base.trim_start_matches("http://").parse().unwrap();
    let from: std::net::SocketAddr = format!("{from}:0").parse().unwrap();
    (0..count)
        .map(|_| {
            let socket =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            socket.bind(&from.into()).unwrap();
            socket.connect(&target.into()).unwrap();
            TcpStream::from(socket)
        })
        .collect()
}

/// How many of `streams` the server closed (a read ends them).
fn closed_count(streams: &[TcpStream]) -> usize {
    streams
        .iter()
        .filter(|stream| {
            stream.set_nonblocking(true).unwrap();
            matches!((&**stream).read(&mut [0u8; 1]), Ok(0))
        })
        .count()
}

#[test]
fn one_client_cannot_hold_every_connection() {
    // 64 connections at once, so 4 a client address (the same sixteenth as 256 of the
    // default 4,096), so that the test fills the server quickly.
    let server = serve(&["--max-connections", "64"]);
    let open = |from: &str, count: usize| idle_sockets(&server.base, from, count);
    let first = open("127.0.0.2", 10);
    // Past its share, a client's connections are closed at once: read, they end.
    let closed = || closed_count(&first);
    wait_for(
        "the extra connections closed",
        Duration::from_secs(10),
        || closed() == 6,
    );
    assert_eq!(get(&server.base, "/healthz").0, 200);
    // Fifteen more clients fill the server: anything but `/healthz` is 503...
    let rest: Vec<Vec<TcpStream>> = (3..18).map(|c| open(&format!("127.0.0.{c}"), 4)).collect();
    wait_for("the server full", Duration::from_secs(10), || {
        get(&server.base, "/v1/ports/22").0 == 503
    });
    // ...and a probe still gets `/healthz`, at once.
    let started = Instant::now();
    let (status, body, _) = get(&server.base, "/healthz");
    assert_eq!(status, 200, "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    drop(rest);
    drop(first);
}

#[test]
fn a_client_network_cannot_take_the_overflow_and_healthz_keeps_slots_of_its_own() {
    // 160 connections, 10 a network; the overflow's 64, 4 a network; 16 kept for
    // `/healthz`.
    let server = serve(&["--max-connections", "160"]);
    let open = |from: &str, count: usize| idle_sockets(&server.base, from, count);
    let full: Vec<Vec<TcpStream>> = (2..18).map(|c| open(&format!("127.0.0.{c}"), 10)).collect();
    wait_for("the server full", Duration::from_secs(10), || {
        get(&server.base, "/v1/ports/22").0 == 503
    });
    // One network holds 4 of the overflow, not all of it.
    let greedy = open("127.0.0.40", 10);
    wait_for(
        "the greedy network's extra connections closed",
        Duration::from_secs(10),
        || closed_count(&greedy) == 6,
    );
    // The overflow filled by 15 more networks: a probe is answered from the kept slots.
    let overflow: Vec<Vec<TcpStream>> =
        (41..56).map(|c| open(&format!("127.0.0.{c}"), 4)).collect();
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let (status, body, _) = get(&server.base, "/healthz");
    assert_eq!(status, 200, "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    drop((full, greedy, overflow));
}

#[test]
fn a_session_cookie_is_host_prefixed_and_secure_behind_https() {
    let (_db, path) = empty_store("http-cookie");
    let rita = user(&path, "rita", "requester", &[]);
    let server = serve(&[
        "--authority",
        &path,
        "--public-url",
        "https://ports.example.org",
    ]);
    let body = json!({"token": rita}).to_string();
    let (status, _, headers) = call(&server.base, "POST", "/v1/session", None, Some(&body));
    assert_eq!(status, 200);
    let cookie = header(&headers, "set-cookie")
        .unwrap_or_default()
        .to_owned();
    assert!(
        cookie.starts_with("__Host-portreg_session=") && cookie.contains("; Secure"),
        "{cookie}"
    );
    let id = cookie.split(';').next().unwrap();
    let (status, _, _) = call_with(
        &server.base,
        "GET",
        "/v1/session",
        None,
        None,
        &[("Cookie", id)],
    );
    assert_eq!(status, 200);
    // The plain cookie is not taken behind https, and a second cookie of the name (one
    // tossed in by another site of the domain, placed first) names no session.
    let value = id.split_once('=').unwrap().1;
    let plain = format!("portreg_session={value}");
    let tossed = format!("__Host-portreg_session=tossed; {id}");
    for cookie in [plain.as_str(), tossed.as_str()] {
        let (status, _, _) = call_with(
            &server.base,
            "GET",
            "/v1/session",
            None,
            None,
            &[("Cookie", cookie)],
        );
        assert_ne!(status, 200, "{cookie}");
    }
}

#[test]
fn the_queue_is_read_a_page_at_a_time() {
    let (_db, path) = empty_store("http-pages");
    let rita = user(&path, "rita", "requester", &[]);
    let server = serve(&["--authority", &path]);
    for index in 0..7u16 {
        let (status, _, _) = call(
            &server.base,
            "POST",
            "/v1/requests",
            Some(&rita),
            Some(&request_body(&format!("zq-page-{index}"), 40800 + index)),
        );
        assert_eq!(status, 201);
    }
    let (status, page, _) = call(
        &server.base,
        "GET",
        "/v1/requests?state=pending&limit=3",
        Some(&rita),
        None,
    );
    assert_eq!(status, 200);
    let ids: Vec<i64> = page
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["id"].as_i64())
        .collect();
    assert_eq!(ids.len(), 3);
    let (_, next, _) = call(
        &server.base,
        "GET",
        &format!("/v1/requests?state=pending&limit=3&after={}", ids[2]),
        Some(&rita),
        None,
    );
    let next: Vec<i64> = next
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["id"].as_i64())
        .collect();
    assert_eq!(next.len(), 3);
    assert!(next[0] > ids[2]);
    let (status, _, _) = call(
        &server.base,
        "GET",
        "/v1/requests?limit=0",
        Some(&rita),
        None,
    );
    assert_eq!(status, 400);
}

/// A socket passed as systemd passes one (`LISTEN_FDS`, descriptor 3) is served instead of
/// `--listen`; a rewritten registry file is served again within seconds, and at once on
/// SIGHUP, requests before it answered from the one before.
#[test]
fn serves_a_passed_socket_and_a_rewritten_registry() {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let sandbox = portreg_testing::Sandbox::new();
    let file = sandbox.path().join("local.services");
    std::fs::write(&file, "zq-passed-one 47001/tcp\n").unwrap();
    let fd = listener.as_raw_fd();
    let mut command = sandbox.command(BIN);
    command
        .args(["serve", "--listen", "127.0.0.1:1", "--registry"])
        .arg(&file)
        .env("LISTEN_FDS", "1")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: between fork and exec, only async-signal-safe calls (dup2, fcntl) on a
    // descriptor this process owns.
    unsafe {
        command.pre_exec(move || {
            if fd == 3 {
                libc::fcntl(3, libc::F_SETFD, 0);
            } else if libc::dup2(fd, 3) != 3 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut server = Server {
        child: command.spawn().unwrap(),
        base: base.clone(),
        data: sandbox.path().join("unused"),
        keep_data: false,
    };
    drop(listener);
    wait_for("the passed socket", Duration::from_secs(20), || {
        get(&base, "/healthz").0 == 200
    });
    assert_eq!(get(&base, "/v1/services/zq-passed-one").0, 200);

    // Rewritten: served again within the check interval, without a signal.
    std::fs::write(&file, "zq-passed-two 47002/tcp\n").unwrap();
    wait_for("the rewritten file", Duration::from_secs(10), || {
        get(&base, "/v1/services/zq-passed-two").0 == 200
    });
    assert_eq!(get(&base, "/v1/services/zq-passed-one").0, 404);

    // Rewritten to the same size and modification time, which the check cannot tell
    // from the file before: SIGHUP alone serves it.
    let reference = sandbox.path().join("reference");
    let touch = |from: &std::path::Path, to: &std::path::Path| {
        assert!(Command::new("touch")
            .arg("-r")
            .arg(from)
            .arg(to)
            .status()
            .unwrap()
            .success());
    };
    touch(&file, &reference);
    std::fs::write(&file, "zq-passed-six 47002/tcp\n").unwrap();
    touch(&reference, &file);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        get(&base, "/v1/services/zq-passed-six").0,
        404,
        "served without SIGHUP"
    );
    let pid = server.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap()
        .success());
    wait_for("SIGHUP", Duration::from_secs(5), || {
        get(&base, "/v1/services/zq-passed-six").0 == 200
    });
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "SIGHUP ended the server"
    );
}

/// A kept answer, sent before the router, is counted under its route and logged as every
/// answer is, with the headers it was kept with.
#[test]
fn kept_answers_are_counted_and_logged() {
    let sandbox = portreg_testing::Sandbox::new();
    let log = sandbox.path().join("access.log");
    let server = serve_at(&format!("127.0.0.1:{}", free_port()), &[], Some(&log));
    for _ in 0..3 {
        let (status, body, headers) = get(&server.base, "/v1/ports/22");
        assert_eq!(status, 200);
        assert_eq!(body[0]["name"], "ssh");
        for name in [
            "etag",
            "x-content-type-options",
            "access-control-allow-origin",
        ] {
            assert!(
                headers.iter().any(|(n, _)| n == name),
                "{name}: {headers:?}"
            );
        }
    }
    let metrics = metrics(&server.base);
    assert!(
        metrics
            .contains("portreg_http_requests_total{route=\"/v1/ports/{ports}\",status=\"200\"} 3"),
        "{metrics}"
    );
    wait_for("three access-log lines", Duration::from_secs(10), || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .matches("uri=/v1/ports/22 status=200")
            .count()
            == 3
    });
}

/// Fetches `path` of `base` as bytes.
fn get_bytes(base: &str, path: &str) -> (u16, Vec<u8>) {
    match agent().get(&format!("{base}{path}")).call() {
        Ok(mut response) => {
            let status = response.status().as_u16();
            let bytes = response
                .body_mut()
                .with_config()
                .limit(64 * 1024 * 1024)
                .read_to_vec()
                .unwrap_or_default();
            (status, bytes)
        }
        Err(_) => (0, Vec::new()),
    }
}

/// A source that is not the authority: it answers the authority's key and checkpoint as
/// the authority gave them, and `registry` as its registry (an attacker between a replica
/// and its authority). Serves until the test ends.
fn forged_source(key: Vec<u8>, checkpoint: Vec<u8>, registry: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut request = [0u8; 4096];
            let read = stream.read(&mut request).unwrap_or(0);
            let line = String::from_utf8_lossy(&request[..read]).to_string();
            let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
            let (status, body, kind) = match path.as_str() {
                "/v1/authority/key" => ("200 OK", key.clone(), "application/json"),
                "/v1/log/checkpoint" => ("200 OK", checkpoint.clone(), "text/plain"),
                "/v1/registry.bin" => ("200 OK", registry.clone(), "application/octet-stream"),
                _ => ("404 Not Found", Vec::new(), "text/plain"),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    base
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn witnesses_cosign_the_log_and_replicas_take_only_the_registry_it_signs() {
    use portreg_authority::log::{Checkpoint, CosignerKey, LogKey};
    let Some((_db, path)) = iana_store("http-witnesses") else {
        return;
    };
    let requester = user(&path, "filer", "requester", &[]);
    let expert = user(&path, "judge", "expert", &[]);
    let authority_listen = format!("127.0.0.1:{}", free_port());
    let authority_base = format!("http://{authority_listen}");
    // The witness: a replica of the authority with a key to cosign with.
    let cosign_key =
        std::env::temp_dir().join(format!("portreg-test-cosign-{}", std::process::id()));
    let _ = std::fs::remove_file(&cosign_key);
    let witness = serve(&[
        "--follow",
        &authority_base,
        "--interval",
        "1",
        "--cosign-key",
        &cosign_key.display().to_string(),
    ]);
    let (status, named, _) = get(&witness.base, "/v1/witness");
    assert_eq!(status, 200, "{named}");
    let witness_key = named["verifier_key"].as_str().unwrap().to_owned();
    let cosigner = CosignerKey::from_verifier_key(&witness_key).unwrap();
    let primary = serve_at(
        &authority_listen,
        &[
            "--authority",
            &path,
            "--witness",
            &format!("{witness_key}={}", witness.base),
        ],
        None,
    );
    let (_, key, _) = get(&primary.base, "/v1/authority/key");
    let log_key = LogKey::from_verifier_key(key["verifier_key"].as_str().unwrap()).unwrap();
    approve(&primary.base, &requester, &expert, "zq-cosigned", 40630);
    // The published checkpoint carries the witness's cosignature over what it signs.
    let checkpoint = || {
        let (_, bytes) = get_bytes(&primary.base, "/v1/log/checkpoint");
        String::from_utf8(bytes).unwrap()
    };
    wait_for("the cosigned checkpoint", Duration::from_secs(30), || {
        let note = checkpoint();
        Checkpoint::open(&note, &log_key).is_ok_and(|c| c.size >= 5)
            && cosigner.cosigned_at(&note).is_some()
    });

    // A checker written from the specifications alone agrees with all of it.
    let checker = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/c2sp/check.py");
    let has_cryptography = Command::new("python3")
        .args(["-c", "import cryptography"])
        .status()
        .is_ok_and(|s| s.success());
    if has_cryptography {
        let checked = Command::new("python3")
            .args([
                checker,
                &primary.base,
                &log_key.verifier_key(),
                &witness_key,
            ])
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&checked.stdout);
        assert!(
            checked.status.success(),
            "{said}{}",
            String::from_utf8_lossy(&checked.stderr)
        );
        assert!(said.contains(" passed, 0 failed"), "{said}");
    } else {
        assert!(
            std::env::var_os("PORTREG_REQUIRE_PACKAGES").is_none(),
            "the C2SP checker needs Python's cryptography package (pip install cryptography)"
        );
        eprintln!("the C2SP checker not run: no Python cryptography package");
    }

    // A replica requiring that witness takes the registry; one requiring another does not.
    let other = CosignerKey {
        name: "witness.example/other".into(),
        key: ed25519_dalek::SigningKey::from_bytes(&[5; 32]).verifying_key(),
    };
    let trusting = serve(&[
        "--follow",
        &primary.base,
        "--interval",
        "1",
        "--witness",
        &witness_key,
    ]);
    let demanding = serve(&[
        "--follow",
        &primary.base,
        "--interval",
        "1",
        "--witness",
        &other.verifier_key(),
    ]);
    wait_for(
        "the replica requiring the witness",
        Duration::from_secs(30),
        || get(&trusting.base, "/v1/services/zq-cosigned").0 == 200,
    );
    wait_for("the refusal of the other", Duration::from_secs(30), || {
        let (status, report, _) = get(&demanding.base, "/healthz");
        status == 503
            && report["reason"]
                .as_str()
                .unwrap_or("")
                .contains("cosignature")
    });

    // Finding 1: the authority's real key and checkpoint, a registry edited on the way.
    let (_, registry) = get_bytes(&primary.base, "/v1/registry.bin");
    let mut edited = portreg::CompiledRegistry::from_bytes(&registry)
        .unwrap()
        .to_registry();
    let ssh = edited
        .records
        .iter_mut()
        .find(|r| r.name.as_deref() == Some("ssh"))
        .unwrap();
    ssh.description = Some("The Secure Shell, now with a back door".into());
    let provenance = portreg::CompiledRegistry::from_bytes(&registry)
        .unwrap()
        .provenance()
        .clone();
    let forged = portreg::CompiledRegistry::compile(&edited, &provenance).to_bytes();
    let (_, key_answer) = get_bytes(&primary.base, "/v1/authority/key");
    let source = forged_source(key_answer, checkpoint().into_bytes(), forged);
    let key_file = std::env::temp_dir().join(format!("portreg-test-vkey-{}", std::process::id()));
    std::fs::write(&key_file, log_key.verifier_key()).unwrap();
    let fooled = serve(&[
        "--follow",
        &source,
        "--interval",
        "1",
        "--authority-key",
        &key_file.display().to_string(),
    ]);
    wait_for(
        "the refusal of the edited registry",
        Duration::from_secs(30),
        || {
            let (status, report, _) = get(&fooled.base, "/healthz");
            status == 503
                && report["reason"]
                    .as_str()
                    .unwrap_or("")
                    .contains("not the one the authority's checkpoint signs")
        },
    );
    let (_, ssh, _) = get(&fooled.base, "/v1/services/ssh");
    assert!(
        !ssh.to_string().contains("back door"),
        "the edited registry is never served: {ssh}"
    );
    let _ = std::fs::remove_file(&key_file);
    let _ = std::fs::remove_file(&cosign_key);
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn the_server_signs_nothing_over_an_entry_it_did_not_write_nor_a_log_cut_under_it() {
    let Some((_db, path)) = iana_store("http-unsigned") else {
        return;
    };
    let admin = user(&path, "boss", "admin", &[]);
    user(&path, "rita", "requester", &[]);
    let server = serve(&["--authority", &path]);
    assert_eq!(get(&server.base, "/v1/log/checkpoint").0, 200);
    // Finding 3: `user-role rita admin` written into the file with a correct chain hash,
    // but no signature (the key is not the writer's).
    {
        use sha2::{Digest, Sha256};
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute("UPDATE users SET role = 'admin' WHERE name = 'rita'", [])
            .unwrap();
        let (id, previous): (i64, String) = c
            .query_row(
                "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let id = id + 1;
        let fields = [
            "2026-12-08T00:00:00Z",
            "local:root",
            "user-role",
            "rita",
            "ok",
            "rita: admin",
        ];
        let changes = "[]";
        let mut hasher = Sha256::new();
        hasher.update(previous.as_bytes());
        hasher.update(b"\n");
        hasher.update(
            json!([id, fields[0], fields[1], fields[2], fields[3], fields[4], fields[5]])
                .to_string(),
        );
        hasher.update(b"\n");
        hasher.update(changes.as_bytes());
        let hash = format!("{:x}", hasher.finalize());
        c.execute(
            "INSERT INTO audit (id, at, actor, action, subject, outcome, detail, hash, changes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            rusqlite::params![id, fields[0], fields[1], fields[2], fields[3], fields[4], fields[5], hash, changes],
        )
        .unwrap();
    }
    // The next thing the server does with its store finds it; its checks every 10 s too.
    let (status, _, _) = call(&server.base, "GET", "/v1/users", Some(&admin), None);
    assert_eq!(
        status, 503,
        "no change and no answer over an entry not signed"
    );
    let (status, report, _) = get(&server.base, "/healthz");
    assert_eq!(status, 503, "{report}");
    let reason = report["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("not signed") && reason.contains("user-role"),
        "{reason}"
    );
    assert_eq!(get(&server.base, "/v1/log/checkpoint").0, 503);
    let verify = portreg_testing::Sandbox::new()
        .command(BIN)
        .args(["authority", "--db", &path, "verify"])
        .output()
        .unwrap();
    assert_eq!(verify.status.code(), Some(1));
    drop(server);

    // Finding 10: a store cut under a running server stops its checkpoints.
    let Some((_db, path)) = iana_store("http-cut") else {
        return;
    };
    let admin = user(&path, "boss", "admin", &[]);
    user(&path, "one", "requester", &[]);
    let server = serve(&["--authority", &path]);
    assert_eq!(
        call(&server.base, "GET", "/v1/users", Some(&admin), None).0,
        200
    );
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "DROP TRIGGER audit_is_append_only_delete; DELETE FROM audit WHERE id = (SELECT max(id) FROM audit);",
        )
        .unwrap();
    }
    wait_for("the cut found", Duration::from_secs(20), || {
        let (status, report, _) = get(&server.base, "/healthz");
        status == 503 && report["reason"].as_str().unwrap_or("").contains("cut")
    });
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn a_replica_remembers_the_log_not_the_url_never_forgets_silently_and_refuses_a_stale_one() {
    let Some((_db, path)) = iana_store("http-remember") else {
        return;
    };
    let requester = user(&path, "filer", "requester", &[]);
    let expert = user(&path, "judge", "expert", &[]);
    // A copy of the store as it is now: what the log will be rolled back to.
    let early = format!("{path}.early");
    authority(&path, &["backup", &early]);
    let authority_port = free_port();
    let authority_listen = format!("127.0.0.1:{authority_port}");
    let primary = serve_at(&authority_listen, &["--authority", &path], None);
    let replica_listen = format!("127.0.0.1:{}", free_port());
    let data = std::env::temp_dir().join(format!("portreg-test-remember-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let by_address = format!("http://127.0.0.1:{authority_port}");
    let replica = serve_in(
        &replica_listen,
        &["--follow", &by_address, "--interval", "1"],
        None,
        data.clone(),
        true,
    );
    for (name, port) in [("zq-remember-a", 40640), ("zq-remember-b", 40641)] {
        approve(&primary.base, &requester, &expert, name, port);
        wait_for(
            "the approval on the replica",
            Duration::from_secs(20),
            || get(&replica.base, &format!("/v1/services/{name}")).0 == 200,
        );
    }
    drop(replica);
    // The log rolled back (the early copy served, its key beside it), and the replica
    // restarted on another spelling of the same server: the log it witnessed is the
    // same log, and the rollback is refused.
    drop(primary);
    std::fs::copy(format!("{path}.key"), format!("{early}.key")).unwrap();
    let _rolled_back = serve_at(&authority_listen, &["--authority", &early], None);
    let by_name = format!("http://localhost:{authority_port}");
    let replica = serve_in(
        &replica_listen,
        &["--follow", &by_name, "--interval", "1"],
        None,
        data.clone(),
        true,
    );
    wait_for("the rollback refused", Duration::from_secs(20), || {
        let (status, report, _) = get(&replica.base, "/healthz");
        status == 503 && report["reason"].as_str().unwrap_or("").contains("shrank")
    });
    drop(replica);
    // What it witnessed damaged: the replica stops, naming the file, and pins nothing.
    let kept = std::fs::read_dir(data.join("follow"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("log-"))
        .unwrap();
    std::fs::write(&kept, "{ not json").unwrap();
    let mut command = Command::new(BIN);
    portreg_testing::isolate(&mut command, &data.join("sandbox"));
    let stopped = command
        .args([
            "serve",
            "--follow",
            &by_name,
            "--interval",
            "1",
            "--listen",
            &replica_listen,
        ])
        .env("PORTREG_DATA_DIR", &data)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(stopped.status.code(), Some(2));
    let said = String::from_utf8_lossy(&stopped.stderr);
    assert!(
        said.contains("cannot be read") && said.contains(&*kept.to_string_lossy()),
        "{said}"
    );
    let _ = std::fs::remove_dir_all(&data);
    // A checkpoint older than --max-age is stale, however well signed.
    let stale = serve(&["--follow", &by_address, "--interval", "1", "--max-age", "1"]);
    wait_for(
        "the stale checkpoint refused",
        Duration::from_secs(30),
        || {
            let (status, report, _) = get(&stale.base, "/healthz");
            status == 503 && report["reason"].as_str().unwrap_or("").contains("stale")
        },
    );
    let _ = std::fs::remove_file(&early);
}
