//! The monitor page at `/` in a real headless Chromium: served with a fake `/api/monitor`
//! whose answer changes on every request, the page must redraw itself in place (no reload),
//! keep pack ids as text, and say so when the server stops answering, and recover.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use modularbase_serve::page::{MONITOR_CSP, monitor_page};
use modularbase_serve::status::{CacheCounters, MonitorComponent, MonitorSnapshot, RecentRequest};
use modularbase_tests::{Chromium, Page, artifacts_dir};

/// How long the page runs before its DOM is read: a few one-second polls.
const VIRTUAL_MS: u32 = 4_500;

/// A pack id that would be markup if the page wrote it as HTML.
const HOSTILE_ID: &str = "<b>x</b>";

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

/// What the fake server counts, and how it answers.
#[derive(Default)]
struct Fake {
    /// `GET /` so far: a page that reloads itself would fetch it again.
    pages: AtomicUsize,
    /// `GET /api/monitor` so far.
    polls: AtomicUsize,
    /// The first this many polls fail with 500 (`usize::MAX`: all of them).
    failing: usize,
}

/// The server in the background; stops with the test process.
struct Server {
    url: String,
    fake: Arc<Fake>,
}

impl Server {
    fn start(failing: usize) -> Self {
        let fake = Arc::new(Fake {
            failing,
            ..Fake::default()
        });
        let app = Router::new()
            .route("/", get(page))
            .route("/api/monitor", get(monitor))
            .with_state(fake.clone());
        let (tx, rx) = std::sync::mpsc::channel::<SocketAddr>();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
        let addr = rx.recv().unwrap();
        Self {
            url: format!("http://{addr}/"),
            fake,
        }
    }

    fn pages(&self) -> usize {
        self.fake.pages.load(Ordering::SeqCst)
    }

    fn polls(&self) -> usize {
        self.fake.polls.load(Ordering::SeqCst)
    }
}

async fn page(State(fake): State<Arc<Fake>>) -> Response {
    fake.pages.fetch_add(1, Ordering::SeqCst);
    monitor_page().await.into_response()
}

/// The n-th snapshot (from 1): `cache.hits` is n, and the hostile pack is `loaded` on the
/// first and `evicted` on every later one.
async fn monitor(State(fake): State<Arc<Fake>>) -> Response {
    let n = fake.polls.fetch_add(1, Ordering::SeqCst) + 1;
    if n <= fake.failing {
        return (StatusCode::INTERNAL_SERVER_ERROR, "down").into_response();
    }
    let served = n - fake.failing.min(n);
    let hostile_state = if served == 1 { "loaded" } else { "evicted" };
    let hostile_used = if served == 1 { 512 * MIB } else { 0 };
    let component = |id: &str, kind: &str, state: &str, bytes| MonitorComponent {
        id: id.to_owned(),
        kind: kind.to_owned(),
        state: state.to_owned(),
        bytes,
    };
    Json(MonitorSnapshot {
        budget: 4 * GIB,
        used: 2 * GIB + 256 * MIB + hostile_used,
        device: "cpu".to_owned(),
        components: vec![
            component("base", "base", "resident", 2 * GIB),
            component("router", "router", "resident", 256 * MIB),
            component(HOSTILE_ID, "domain", hostile_state, 512 * MIB),
            component("sql", "domain", "installed", 300 * MIB),
        ],
        cache: CacheCounters {
            hits: served as u64,
            misses: 2,
            evictions: 1,
            preloads: 3,
            expirations: 4,
        },
        running: 1,
        waiting: 2,
        recent: vec![
            RecentRequest {
                id: "chatcmpl-2".to_owned(),
                model: "python_code".to_owned(),
                pack: None,
                substitutions: vec!["python_code: budget".to_owned()],
                tokens: 17,
                seconds: 1.25,
                finish_reason: "length".to_owned(),
            },
            RecentRequest {
                id: "chatcmpl-1".to_owned(),
                model: "sql".to_owned(),
                pack: Some("sql".to_owned()),
                substitutions: vec![],
                tokens: 40,
                seconds: 2.5,
                finish_reason: "stop".to_owned(),
            },
        ],
    })
    .into_response()
}

fn number(page: &Page, selector: &str) -> usize {
    let text = page.text(selector);
    text.parse()
        .unwrap_or_else(|_| panic!("`{selector}` is `{text}`, not a number"))
}

#[test]
fn the_page_redraws_itself_from_the_monitor_api() {
    let server = Server::start(0);
    let dom = Chromium::find().dump_dom_after(&server.url, VIRTUAL_MS);
    let page = Page::from_dom(dom);

    assert_eq!(page.title(), "ModularBase monitor");
    assert_eq!(page.text("#status"), "ok");
    assert_eq!(page.text("#budget"), "4.0 GiB");
    assert_eq!(page.text("#used"), "2.3 GiB");
    assert_eq!(page.text("#device"), "cpu");
    assert_eq!(page.text("#used-pct"), "56.3%");
    assert_eq!(page.attrs("#budget-bar > span", "style"), ["width: 56.3%;"]);

    // Polled several times, in place: the page was fetched once, and what it shows is the
    // latest snapshot (hits = polls answered = refreshes it counted since it loaded).
    let refreshes = number(&page, "#refreshes");
    let hits = number(&page, "#cache-hits");
    assert!(refreshes > 1, "the page refreshed {refreshes} time(s)");
    assert_eq!(
        hits, refreshes,
        "the page shows an older snapshot than its last"
    );
    assert!(server.polls() >= refreshes);
    assert_eq!(server.pages(), 1, "the page reloaded itself");

    assert_eq!(
        page.attrs("#components tbody tr", "data-id"),
        ["base", "router", HOSTILE_ID, "sql"]
    );
    assert_eq!(
        page.attrs("#components tbody tr", "data-state"),
        ["resident", "resident", "evicted", "installed"]
    );
    let row = "#components tbody tr[data-id=\"base\"]";
    assert_eq!(page.text(&format!("{row} .size")), "2.0 GiB");
    assert_eq!(page.text(&format!("{row} .pct")), "50.0%");

    // The hostile id is text, not a <b> element.
    assert_eq!(page.count("#components b"), 0);
    assert_eq!(
        page.text("#components tbody tr:nth-child(3) .id"),
        HOSTILE_ID
    );

    assert_eq!(page.text("#cache-misses"), "2");
    assert_eq!(page.text("#cache-evictions"), "1");
    assert_eq!(page.text("#cache-preloads"), "3");
    assert_eq!(page.text("#cache-expirations"), "4");
    assert_eq!(page.text("#running"), "1");
    assert_eq!(page.text("#waiting"), "2");

    assert_eq!(page.count("#recent tbody tr"), 2);
    assert_eq!(
        page.texts("#recent tbody tr:first-child td"),
        [
            "chatcmpl-2",
            "python_code",
            "base",
            "python_code: budget",
            "17",
            "1.25",
            "length"
        ]
    );
    assert_eq!(page.texts("#recent tbody tr .pack"), ["base", "sql"]);
}

#[test]
fn the_first_snapshot_is_drawn_before_the_next_poll() {
    // Under a second of virtual time: one poll, the hostile pack still loaded.
    let server = Server::start(0);
    let page = Page::from_dom(Chromium::find().dump_dom_after(&server.url, 500));
    assert_eq!(page.text("#refreshes"), "1");
    assert_eq!(
        page.attrs("#components tbody tr", "data-state"),
        ["resident", "resident", "loaded", "installed"]
    );
    assert_eq!(page.text("#used"), "2.8 GiB");
}

#[test]
fn a_failing_monitor_api_shows_connection_lost() {
    let server = Server::start(usize::MAX);
    let page = Page::from_dom(Chromium::find().dump_dom_after(&server.url, 2_500));
    assert_eq!(page.text("#status"), "connection lost");
    assert_eq!(page.text("#refreshes"), "0");
    assert!(
        server.polls() > 1,
        "the page stopped polling after a failure"
    );
}

#[test]
fn the_page_recovers_when_the_monitor_api_answers_again() {
    let server = Server::start(2);
    let page = Page::from_dom(Chromium::find().dump_dom_after(&server.url, VIRTUAL_MS));
    assert_eq!(page.text("#status"), "ok");
    assert!(number(&page, "#refreshes") >= 1);
    assert_eq!(server.pages(), 1);
}

#[test]
fn screenshots_at_desktop_and_phone_widths() {
    let server = Server::start(0);
    let chromium = Chromium::find();
    let dir = artifacts_dir();
    for (name, size) in [
        ("serve-monitor-1280.png", (1280, 900)),
        ("serve-monitor-390.png", (390, 1400)),
    ] {
        chromium.screenshot_after(&server.url, &dir.join(name), size, 2_500);
    }
}

#[test]
fn the_page_is_served_with_its_content_security_policy() {
    let server = Server::start(0);
    let response = reqwest::blocking::get(&server.url).unwrap();
    assert_eq!(response.status(), 200);
    let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
    assert_eq!(header("content-security-policy"), MONITOR_CSP);
    assert_eq!(header("cache-control"), "no-store");
    assert!(header("content-type").starts_with("text/html"));
}
