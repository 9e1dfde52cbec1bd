//! The web page in a real headless browser: Debian's chromium, driven through
//! chromedriver (WebDriver). Skips, saying why, where they are not installed;
//! `PORTREG_REQUIRE_BROWSER=1` (set by CI, which installs them) makes that a failure.

mod support;

use std::net::TcpListener;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{ClientBuilder, Locator};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs `walk` in a headless chromium driven by chromedriver, or skips saying why.
fn in_browser<F, Fut>(walk: F)
where
    F: FnOnce(fantoccini::Client) -> Fut,
    Fut: std::future::Future<Output = fantoccini::Client>,
{
    if !std::path::Path::new(CHROMIUM).exists() || !std::path::Path::new(CHROMEDRIVER).exists() {
        if std::env::var("PORTREG_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
            panic!("PORTREG_REQUIRE_BROWSER=1 but {CHROMIUM} or {CHROMEDRIVER} is missing");
        }
        eprintln!("skipped: {CHROMIUM} and {CHROMEDRIVER} (Debian's chromium, chromium-driver) are not installed");
        return;
    }
    let port = free_port();
    // The browser's profile, caches and certificate store go to the sandbox, not the home.
    let sandbox = portreg_testing::Sandbox::new();
    let driver = Driver(
        sandbox
            .command(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts"),
    );
    // ureq and the WebDriver client bring different TLS back ends: pick one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": CHROMIUM,
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                         "--no-first-run", "--disable-background-networking", "--disable-component-update",
                         "--disable-sync", "--window-size=1200,900"],
            }),
        );
        capabilities.insert(
            "goog:loggingPrefs".into(),
            serde_json::json!({"browser": "ALL"}),
        );
        let started = Instant::now();
        let client = loop {
            match ClientBuilder::rustls().expect("tls").capabilities(capabilities.clone()).connect(&format!("http://127.0.0.1:{port}")).await {
                Ok(client) => break client,
                Err(error) if started.elapsed() < Duration::from_secs(20) => {
                    let _ = error;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(error) => panic!("cannot reach chromedriver: {error}"),
            }
        };
        let client = walk(client).await;
        client.close().await.unwrap();
    });
    drop(driver);
}

/// chromedriver's command for the browser's console log (`/se/log`).
#[derive(Debug)]
struct ConsoleLog;

impl fantoccini::wd::WebDriverCompatibleCommand for ConsoleLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.into()))
    }
}

/// The errors in the browser's console since the last time it was asked.
async fn console_errors(client: &fantoccini::Client) -> Vec<String> {
    let log = client.issue_cmd(ConsoleLog).await.unwrap_or_default();
    log.as_array()
        .into_iter()
        .flatten()
        .filter(|entry| entry["level"] == "SEVERE")
        .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn a_record_shows_its_timeline_and_the_page_takes_as_of() {
    let base = support::start();
    in_browser(|client| async move {
        client
            .goto(&format!("{base}/?q=465&detail=465%2Ftcp&as_of=2016-06-01"))
            .await
            .unwrap();
        // The detail as published then: urd alone; its timeline below it.
        let timeline = element(&client, "//div[@id='timeline']//table[@class='timeline']").await;
        let text = timeline.text().await.unwrap();
        assert!(text.contains("added") && text.contains("urd"), "{text}");
        let banner = client
            .find(Locator::Css("#as-of"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(banner.contains("As published on 2013-06-26"), "{banner}");
        let detail = client
            .find(Locator::Css("#detail"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            detail.contains("urd") && !detail.contains("Message Submission"),
            "{detail}"
        );
        let errors = console_errors(&client).await;
        assert!(errors.is_empty(), "{errors:?}");
        client
    });
}

#[test]
fn type_ssh_see_22_open_the_detail_view() {
    let base = support::start();
    in_browser(|client| async move {
        client.goto(&format!("{base}/")).await.unwrap();
        let search = client.find(Locator::Css("#q")).await.unwrap();
        search.send_keys("ssh").await.unwrap();
        let row = client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("tr.hit[data-query='22/tcp']"))
            .await
            .expect("22/tcp shows up as you type");
        let text = row.text().await.unwrap();
        assert!(text.contains("22") && text.contains("ssh"), "{text}");
        // The address follows what was typed, so that the result can be shared.
        let address = client.current_url().await.unwrap();
        assert_eq!(address.query(), Some("q=ssh"), "{address}");
        // Names are links to their record's own address.
        let link = row
            .find(Locator::Css("a.record"))
            .await
            .expect("the name is a link");
        let href = link.attr("href").await.unwrap().unwrap_or_default();
        assert!(href.contains("detail=22%2Ftcp"), "{href}");
        row.click().await.unwrap();
        let detail = client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::XPath(
                "//section[@id='detail' and not(@hidden)]//h2[contains(., 'Port 22')]",
            ))
            .await
            .expect("the detail view opens");
        let _ = detail;
        let detail_text = client
            .find(Locator::Css("#detail"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            detail_text.contains("The Secure Shell (SSH) Protocol"),
            "{detail_text}"
        );
        assert!(
            detail_text.contains("system: assigned by IETF Review or IESG Approval"),
            "{detail_text}"
        );
        let address = client.current_url().await.unwrap();
        assert!(
            address.query().unwrap_or("").contains("detail=22%2Ftcp"),
            "{address}"
        );
        // Back returns to the list; the detail's own address opens the detail.
        client.back().await.unwrap();
        client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::XPath("//section[@id='detail' and @hidden]"))
            .await
            .expect("Back closes the detail");
        assert_eq!(client.current_url().await.unwrap().query(), Some("q=ssh"));
        client.goto(address.as_ref()).await.unwrap();
        element(
            &client,
            "//section[@id='detail' and not(@hidden)]//h2[contains(., 'Port 22')]",
        )
        .await;
        // A misspelling gets a suggestion, as on the command line.
        client.goto(&format!("{base}/?q=htpp")).await.unwrap();
        element(
            &client,
            "//p[@id='status']//a[@class='suggestion' and .='http']",
        )
        .await;
        // The page asks nothing that fails: no error in the console (no favicon 404, no
        // probe of an authority's queue that is not there). The 404 of the misspelt
        // search above is the API's answer, asked for; it is read off first.
        let _ = console_errors(&client).await;
        client.goto(&format!("{base}/?q=ssh")).await.unwrap();
        client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("tr.hit[data-query='22/tcp']"))
            .await
            .unwrap();
        let errors = console_errors(&client).await;
        assert!(errors.is_empty(), "{errors:?}");
        // The free-port finder answers too.
        client
            .find(Locator::Css("#free-form button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let free = client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::XPath(
                "//p[@id='free-result' and starts-with(., 'Free on')]",
            ))
            .await
            .expect("free ports listed");
        assert!(free.text().await.unwrap().contains("tcp,udp"));
        // A shared address opens with its search done.
        client.goto(&format!("{base}/?q=ldaps")).await.unwrap();
        client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("tr.hit[data-query='636/tcp']"))
            .await
            .expect("a linked search is done on opening");
        client
    });
}

/// Waits for an element, or fails saying what was awaited.
async fn element(client: &fantoccini::Client, xpath: &str) -> fantoccini::elements::Element {
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath(xpath))
        .await
        .unwrap_or_else(|e| panic!("{xpath}: {e}"))
}

async fn sign_in(client: &fantoccini::Client, base: &str, token: &str) {
    client.goto(&format!("{base}/queue")).await.unwrap();
    client
        .find(Locator::Css("#token"))
        .await
        .unwrap()
        .send_keys(token)
        .await
        .unwrap();
    client
        .find(Locator::Css("#sign-in-form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    element(client, "//div[@id='signed-in' and not(@hidden)]").await;
}

#[test]
fn a_requester_submits_an_expert_approves_and_the_search_finds_it() {
    let (base, tokens, _store) =
        support::start_authority(&[("ada", "requester"), ("eve", "expert")]);
    let (ada, eve) = (tokens[0].clone(), tokens[1].clone());
    in_browser(|client| async move {
        // The requester files a request through the form.
        sign_in(&client, &base, &ada).await;
        let form = client.find(Locator::Css("#request-form")).await.unwrap();
        for (field, value) in [
            ("name", "zq-web-queue"),
            ("port", "40777"),
            ("description", "Queue test"),
            ("assignee", "Web team"),
            ("contact", "web@example.org"),
        ] {
            form.find(Locator::Css(&format!("input[name={field}]")))
                .await
                .unwrap()
                .send_keys(value)
                .await
                .unwrap();
        }
        form.find(Locator::Css("button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        element(
            &client,
            "//p[@id='file-result' and contains(., 'filed: zq-web-queue, pending')]",
        )
        .await;
        element(&client, "//section[@id='mine']//tr[td[@class='name' and .='zq-web-queue'] and td[@class='state' and .='pending']]").await;
        // The session is an HttpOnly cookie: the page's script cannot read it.
        let cookie = client
            .execute("return document.cookie", vec![])
            .await
            .unwrap();
        assert_eq!(
            cookie,
            serde_json::json!(""),
            "the session cookie is HttpOnly"
        );
        // A draft left in the form, then signing out: nothing of the requester's stays
        // on the page for whoever signs in next.
        client
            .find(Locator::Css("#request-form input[name=description]"))
            .await
            .unwrap()
            .send_keys("a draft")
            .await
            .unwrap();
        client
            .find(Locator::Css("#sign-out"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        element(&client, "//section[@id='sign-in' and not(@hidden)]").await;
        let left = client
            .execute(
                "return [document.querySelector('#request-form input[name=description]').value,
                         document.querySelector('#file-result').textContent,
                         document.querySelectorAll('#mine tbody tr').length]",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(
            left,
            serde_json::json!(["", "", 0]),
            "the page keeps nothing after sign-out"
        );
        // Signing in as the expert, who approves from the queue.
        sign_in(&client, &base, &eve).await;
        let row = element(
            &client,
            "//section[@id='queue']//tr[td[@class='name' and .='zq-web-queue']]",
        )
        .await;
        row.find(Locator::Css("input[name=comment]"))
            .await
            .unwrap()
            .send_keys("fine")
            .await
            .unwrap();
        row.find(Locator::Css("button[value=approve]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        element(
            &client,
            "//p[@id='queue-result' and contains(., 'approved')]",
        )
        .await;
        // The public search finds the new name.
        client
            .goto(&format!("{base}/?q=zq-web-queue"))
            .await
            .unwrap();
        let hit = element(
            &client,
            "//tr[contains(@class, 'hit') and @data-query='40777/tcp']",
        )
        .await;
        assert!(hit.text().await.unwrap().contains("zq-web-queue"));
        // And its history shows the approval.
        client.goto(&format!("{base}/queue")).await.unwrap();
        let history = client.find(Locator::Css("#history-form")).await.unwrap();
        history
            .find(Locator::Css("input[name=subject]"))
            .await
            .unwrap()
            .send_keys("zq-web-queue")
            .await
            .unwrap();
        history
            .find(Locator::Css("button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        element(&client, "//section[@id='history']//td[.='approve']").await;
        client
    });
}
