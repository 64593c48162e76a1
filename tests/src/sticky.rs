//! What a cluster behind nginx must do, whatever its servers are (Node's or ours): the checks
//! of the shipped sticky-session configurations, shared by the Node-only and the Rust cluster
//! tests. The servers answer, on `/`, `("whoami", ack)` with `{id, port, transport}` and
//! `("echo", v, ack)` with `v`.

use std::future::Future;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{json, Value};
use sio::client::Transport;

use crate::cluster::{ask, client_options, connect, connect_with, record};
use crate::nginx::Nginx;
use crate::Tokio;

/// Upstream addresses of the access log's `/socket.io/` requests (format of `nginx.rs`).
pub fn upstreams(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| l.split(" -> ").nth(1))
        .map(|rest| rest.split(' ').next().unwrap_or("").to_owned())
        .collect()
}

/// Our client through `nginx` (sticky by address, [`crate::nginx::Sticky::IpHash`]) in front
/// of the servers on `ports`: polling-only and polling then websocket, each exchanging events
/// over several requests, and receiving a cluster broadcast that `broadcast_from_first` makes
/// the first server send (its argument is the event's one argument); then every request went
/// to one server and none was refused. Run inside `Tokio::block_on`.
pub async fn sticky_by_address<F, Fut>(nginx: &Nginx, ports: [u16; 2], broadcast_from_first: F)
where
    F: Fn(Value) -> Fut,
    Fut: Future<Output = ()>,
{
    for (transports, name) in [
        (&[Transport::Polling][..], "polling"),
        (&[Transport::Polling, Transport::WebSocket][..], "websocket"),
    ] {
        let s = connect::<Tokio>(&nginx.url(), "/", transports).await;
        exchange(&s, name, ports).await;
        // A cluster broadcast from the first server reaches the client wherever nginx sent it.
        let mut news = record::<Tokio, Value>(&s, "news");
        broadcast_from_first(json!(name)).await;
        assert_eq!(news.recv().await, json!(name));
        s.disconnect();
    }
    let log = nginx.access_log();
    let ups = upstreams(&log);
    assert!(ups.len() >= 8, "too few requests through nginx:\n{log}");
    assert!(
        ups.iter().all(|u| u == &ups[0]),
        "requests went to several servers:\n{log}"
    );
    assert!(!log.contains(" 400"), "a request was refused:\n{log}");
}

/// Asks `s` which server and transport it is on (`transport` must be `name`, the server one
/// of `ports`), then exchanges five acked echoes; the server's port.
async fn exchange(s: &sio::ClientSocket, name: &str, ports: [u16; 2]) -> u64 {
    let who = ask(s, "whoami", &()).await;
    assert_eq!(who["transport"], json!(name));
    let port = who["port"].as_u64().expect("a port");
    assert!(ports.iter().any(|p| u64::from(*p) == port), "{who}");
    for i in 0..5 {
        assert_eq!(ask(s, "echo", &json!({"i": i})).await, json!({"i": i}));
    }
    port
}

/// The cookie variant by hand (raw requests, and a control case without the cookie), `nginx` configured with
/// [`crate::nginx::Sticky::Cookie`] in front of the servers on `ports`: a long-polling session
/// that sends nginx's `sio_node` cookie back stays on its server (CONNECT, an acked event);
/// without the cookie, the next request goes to the other server, which does not know the
/// session (the control case); both servers were used.
pub fn sticky_by_cookie(nginx: &Nginx, ports: [u16; 2]) {
    let port = nginx.port;
    for _ in 0..3 {
        let (sid, node) = handshake(port);
        let target = format!("{POLLING}&sid={sid}");
        let jar = Some(node.as_str());
        let r = http(port, "POST", &target, jar, "40");
        assert_eq!((r.status, r.body.as_str()), (200, "ok"));
        let r = http(port, "GET", &target, jar, "");
        assert_eq!(r.status, 200);
        assert!(r.body.starts_with("40{"), "CONNECT answer: {}", r.body);
        let r = http(port, "POST", &target, jar, "421[\"echo\",\"hi\"]");
        assert_eq!((r.status, r.body.as_str()), (200, "ok"));
        let r = http(port, "GET", &target, jar, "");
        assert_eq!(r.status, 200);
        assert!(r.body.contains("431[\"hi\"]"), "ack: {}", r.body);
    }
    let (sid, _) = handshake(port);
    let r = http(port, "POST", &format!("{POLLING}&sid={sid}"), None, "40");
    assert_eq!(r.status, 400, "without the cookie: {}", r.body);
    let ups = upstreams(&nginx.access_log());
    for p in ports {
        assert!(ups.iter().any(|u| u.ends_with(&format!(":{p}"))), "{ups:?}");
    }
}

/// Our client with `with_credentials` through `nginx` configured with
/// [`crate::nginx::Sticky::Cookie`]: it keeps nginx's `sio_node` cookie and sends it back, so
/// its long-polling session (polling only, and polling then websocket) stays on one server
/// over many requests, none refused. Run inside `Tokio::block_on`.
pub async fn sticky_by_cookie_client(nginx: &Nginx, ports: [u16; 2]) {
    for (transports, name) in [
        (&[Transport::Polling][..], "polling"),
        (&[Transport::Polling, Transport::WebSocket][..], "websocket"),
    ] {
        let opts = sio::ClientOptions {
            with_credentials: true,
            ..client_options(transports)
        };
        let s = connect_with::<Tokio>(&nginx.url(), "/", opts).await;
        let sid = s.manager().engine_id().expect("the session's id");
        let port = exchange(&s, name, ports).await;
        s.disconnect();
        // Over polling every echo is two requests; an upgrade may leave polling at once.
        let least = if name == "polling" { 6 } else { 2 };
        // nginx writes a request's line once it has answered: wait for the session's.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let new = loop {
            let new: Vec<(String, String, String)> = session_requests(&nginx.access_log())
                .into_iter()
                .filter(|(s, _, _)| *s == sid)
                .collect();
            if new.len() >= least || std::time::Instant::now() > deadline {
                break new;
            }
            crate::sleep(
                &*<Tokio as crate::Driver>::runtime(),
                Duration::from_millis(20),
            )
            .await;
        };
        assert!(
            new.len() >= least,
            "too few requests of the session: {new:?}"
        );
        assert!(
            new.iter()
                .all(|(_, up, status)| up.ends_with(&format!(":{port}")) && status != "400"),
            "the session's requests went elsewhere than {port} or were refused: {new:?}"
        );
    }
}

/// `(sid, upstream, status)` of each request of an open session (`sid=` in its query) in the
/// access log (format of `nginx.rs`).
fn session_requests(log: &str) -> Vec<(String, String, String)> {
    log.lines()
        .filter_map(|l| {
            let sid = l.split("sid=").nth(1)?.split([' ', '&']).next()?.to_owned();
            let mut rest = l.split(" -> ").nth(1)?.split(' ');
            let up = rest.next()?.to_owned();
            let status = rest.next().unwrap_or("").to_owned();
            Some((sid, up, status))
        })
        .collect()
}

const POLLING: &str = "/socket.io/?EIO=4&transport=polling";

/// A raw HTTP/1.1 request through nginx (`Connection: close`); the status, the `sio_node`
/// cookie it set, and the body.
fn http(port: u16, method: &str, target: &str, cookie: Option<&str>, body: &str) -> Http {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to nginx");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let cookie = cookie
        .map(|c| format!("Cookie: sio_node={c}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{cookie}Content-Type: text/plain\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).expect("write");
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("read");
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let node = head.lines().find_map(|l| {
        let v = l.strip_prefix("Set-Cookie: sio_node=")?;
        Some(v.split(';').next().unwrap_or("").to_owned())
    });
    Http {
        status,
        node,
        body: body.to_owned(),
    }
}

struct Http {
    status: u16,
    node: Option<String>,
    body: String,
}

/// A long-polling handshake through nginx; the session id and the `sio_node` cookie nginx set.
fn handshake(port: u16) -> (String, String) {
    let hs = http(port, "GET", POLLING, None, "");
    assert_eq!(hs.status, 200, "handshake: {}", hs.body);
    let node = hs.node.filter(|n| !n.is_empty());
    let node = node.unwrap_or_else(|| panic!("no sio_node cookie on the handshake"));
    let open: Value = serde_json::from_str(hs.body.trim_start_matches('0')).expect("open packet");
    (open["sid"].as_str().expect("sid").to_owned(), node)
}
