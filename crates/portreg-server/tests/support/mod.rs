//! A server of the test's own on 127.0.0.1, over the embedded registry.

#![allow(dead_code)]

use std::sync::Arc;

use portreg::CompiledRegistry;
use portreg_server::AppState;

/// Starts the server on a free loopback port in a thread of its own; returns the base URL.
pub fn start() -> String {
    start_with(|| AppState::new(Box::new(CompiledRegistry::embedded()), "embedded".into()))
}

/// Starts a server over the state `make` makes (in the server's runtime); returns the
/// base URL.
fn start_with(make: impl FnOnce() -> AppState + Send + 'static) -> String {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            sender
                .send(listener.local_addr().expect("address"))
                .expect("send");
            portreg_server::serve(listener, Arc::new(make()), std::future::pending())
                .await
                .expect("serve");
        });
    });
    let address = receiver.recv().expect("server started");
    format!("http://{address}")
}

/// What a GET answered.
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// GETs `url` with extra headers.
pub fn get_with(url: &str, headers: &[(&str, &str)]) -> Answer {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut request = agent.get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut response = request.call().expect("request");
    let status = response.status().as_u16();
    let headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let content_type = headers
        .iter()
        .find(|(n, _)| n == "content-type")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    Answer {
        status,
        content_type,
        headers,
        body,
    }
}

/// GETs `url`.
pub fn get(url: &str) -> Answer {
    get_with(url, &[])
}

/// A store that is removed when dropped.
pub struct Store(pub std::path::PathBuf);

impl Drop for Store {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", ".key"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

/// Starts a server running an authority over a new, empty store with the given
/// identities (name, role); returns the base URL, their tokens, and the store.
pub fn start_authority(identities: &[(&str, &str)]) -> (String, Vec<String>, Store) {
    use portreg_authority::{Actor, Authority};
    let path = std::env::temp_dir().join(format!(
        "portreg-server-authority-{}-{}.sqlite",
        std::process::id(),
        identities.len()
    ));
    // A store an earlier run left behind is removed first.
    drop(Store(path.clone()));
    let store = Store(path.clone());
    let admin = Actor::local("test");
    let mut authority = Authority::init(&path, None, &admin).expect("store");
    let tokens = identities
        .iter()
        .map(|(name, role)| {
            authority
                .add_user(name, role.parse().expect("role"), None, None, &admin)
                .expect("identity")
        })
        .collect();
    drop(authority);
    let base = start_with(move || {
        let service = portreg_server::authority::AuthorityService::open(
            &path,
            portreg_server::authority::RateLimit::default(),
            None,
        )
        .expect("authority");
        let mut state = AppState::from_snapshot(service.snapshot().expect("registry"));
        state.authority = Some(service);
        state
    });
    (base, tokens, store)
}
