//! `sio_load`: a Socket.IO load generator speaking the raw protocol over websocket (no client
//! library), for measuring a server's cost per message in CPU-seconds of the server process.
//!
//! ```text
//! sio_load --port P --pid PID --mode broadcast --clients 1000 --duration 10 [--rate 50] [--burst 1]
//! sio_load --port P --pid PID --mode echo --clients 100 --duration 10 [--inflight 1]
//! sio_load --port P --pid PID --mode idle --clients 2000 [--settle 3]
//! sio_load --port P --pid PID --mode tick --clients 1000 --duration 10
//! sio_load --port P --pid PID --mode slowloris --clients 2000 --settle 15
//! sio_load --port P --pid PID --mode slow-consumer --clients 10 --duration 10 --payload 65536
//! sio_load --port A --pid PID_A --port2 B --pid2 PID_B [--pid-redis R] --mode broadcast ...
//! ```
//!
//! - `broadcast`: client 0 emits `broadcast` `rate` times a second; the server sends `bcast`
//!   to every client. Counted: deliveries of the broadcasts sent in the measured window, until
//!   all arrived (or 5 s); latency = receive time - send time embedded in the payload.
//!   With `--burst K`, client 0 emits K broadcasts back to back (written in one go) at each
//!   tick: K packets wait for every recipient at once, where a server may batch its writes.
//!   With `--transport polling`, every client but the sender receives over HTTP long-polling
//!   (its own two kept-alive connections: one for the long-polls, one for `POST`s).
//! - `echo`: every client emits `echo` with an ack, `inflight` at a time, in a closed loop.
//!   Counted: acks received in the window; latency = ack time - emit time.
//! - `idle`: connect `clients` clients (Engine.IO open + Socket.IO CONNECT), wait `settle`
//!   seconds, report the server's RSS growth per connection (`VmRSS` of `/proc/PID/status`).
//!   With `--port2`/`--pid2` (a cluster): client 0 is on server A (`--port`) and the others on
//!   server B; only B's deliveries are counted, per CPU-second of both servers (and of B alone,
//!   and Redis's with `--pid-redis`).
//! - `tick`: the server broadcasts by itself (a bench server started with `TICK_HZ`); counted:
//!   deliveries received in the window; latency from the server's timestamp.
//!
//! - `slowloris`: open `clients` TCP connections that each send half a request head and then
//!   nothing. Reported: the server's RSS and open descriptors before, while they are held, and
//!   `settle` seconds later (a server with a header deadline has closed them by then), and how
//!   many the server closed.
//! - `slow-consumer`: `clients` clients read everything while one more client connects and
//!   then reads nothing; client 0 emits `broadcast` `rate` times a second with a `payload`-byte
//!   padding, for `duration` seconds. Reported: the server's RSS before, at its peak and
//!   `settle` seconds after the sending stopped, whether the server disconnected the stalled
//!   client, and the deliveries to the others (they must not be disturbed).
//!
//! The server's CPU time is `utime + stime` of `/proc/PID/stat` (clock ticks of 1/100 s, the
//! fixed `USER_HZ` of Linux's `/proc`) read at the start and the end of the window. Only
//! 127.0.0.1 is ever connected to. Every phase is bounded in time; the program ends by itself.
//! Prints one summary line starting with `RESULT`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_tungstenite::tungstenite::Message;
use async_tungstenite::WebSocketStream;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{watch, Semaphore};
use tokio::time::{timeout, Interval, MissedTickBehavior};
use tokio_util::compat::{Compat, TokioAsyncReadCompatExt};

type Ws = WebSocketStream<Compat<TcpStream>>;
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// `/proc` reports CPU times in `USER_HZ` ticks, 100 per second on Linux.
const CLK_TCK: f64 = 100.0;
const WARMUP: Duration = Duration::from_secs(1);
const DRAIN_MAX: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Broadcast,
    Echo,
    Idle,
    Tick,
    Slowloris,
    SlowConsumer,
}

#[derive(Clone, Debug)]
struct Args {
    port: u16,
    pid: u32,
    /// A cluster's second server (0: none).
    port2: u16,
    pid2: u32,
    /// The cluster's Redis (0: none).
    pid_redis: u32,
    mode: Mode,
    clients: usize,
    duration: f64,
    rate: f64,
    inflight: usize,
    payload: usize,
    settle: f64,
    threads: usize,
    connect_concurrency: usize,
    label: String,
    rounds: usize,
    /// Broadcasts per tick of the sender, written back to back.
    burst: usize,
    /// The receivers of a broadcast use long-polling.
    polling: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: sio_load --port P --pid PID --mode broadcast|echo|idle|tick [--clients N] \
         [--duration S] [--rate R] [--inflight K] [--payload BYTES] [--settle S] \
         [--threads T] [--connect-concurrency C] [--label TEXT] [--rounds N] \
         [--port2 P --pid2 PID [--pid-redis PID]]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        port: 0,
        pid: 0,
        port2: 0,
        pid2: 0,
        pid_redis: 0,
        mode: Mode::Broadcast,
        clients: 1000,
        duration: 10.0,
        rate: 50.0,
        inflight: 1,
        payload: 32,
        settle: 3.0,
        threads: 1,
        connect_concurrency: 64,
        label: String::new(),
        rounds: 1,
        burst: 1,
        polling: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let Some(v) = it.next() else { usage() };
        match flag.as_str() {
            "--port" => a.port = num(&flag, &v),
            "--pid" => a.pid = num(&flag, &v),
            "--port2" => a.port2 = num(&flag, &v),
            "--pid2" => a.pid2 = num(&flag, &v),
            "--pid-redis" => a.pid_redis = num(&flag, &v),
            "--mode" => {
                a.mode = match v.as_str() {
                    "broadcast" => Mode::Broadcast,
                    "echo" => Mode::Echo,
                    "idle" => Mode::Idle,
                    "tick" => Mode::Tick,
                    "slowloris" => Mode::Slowloris,
                    "slow-consumer" => Mode::SlowConsumer,
                    _ => usage(),
                }
            }
            "--clients" => a.clients = num(&flag, &v),
            "--duration" => a.duration = num(&flag, &v),
            "--rate" => a.rate = num(&flag, &v),
            "--inflight" => a.inflight = num(&flag, &v),
            "--payload" => a.payload = num(&flag, &v),
            "--settle" => a.settle = num(&flag, &v),
            "--threads" => a.threads = num(&flag, &v),
            "--connect-concurrency" => a.connect_concurrency = num(&flag, &v),
            "--label" => a.label = v,
            "--rounds" => a.rounds = num(&flag, &v),
            "--burst" => a.burst = num(&flag, &v),
            "--transport" => {
                a.polling = match v.as_str() {
                    "polling" => true,
                    "websocket" => false,
                    _ => usage(),
                }
            }
            _ => usage(),
        }
    }
    let bounded = a.duration > 0.0 && a.duration <= 600.0 && a.settle >= 0.0 && a.settle <= 600.0;
    if a.port == 0 || a.pid == 0 || a.clients == 0 || a.inflight == 0 || !bounded {
        usage()
    }
    if a.polling && (a.mode != Mode::Broadcast || a.port2 != 0) {
        usage()
    }
    if a.burst == 0 || a.burst > 1000 || (a.burst > 1 && a.mode != Mode::Broadcast) {
        usage()
    }
    // A cluster run: a broadcast case, a sender and at least one receiver on B.
    if (a.port2 == 0) != (a.pid2 == 0)
        || (a.port2 != 0 && (a.mode != Mode::Broadcast || a.clients < 2))
    {
        usage()
    }
    if !(a.rate > 0.0 && a.rate <= 100_000.0) || a.threads == 0 || a.connect_concurrency == 0 {
        usage()
    }
    a
}

fn num<T: std::str::FromStr>(flag: &str, v: &str) -> T {
    v.parse().unwrap_or_else(|_| {
        eprintln!("bad value for {flag}: {v}");
        usage()
    })
}

/// What every client follows.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Phase {
    /// Clients are connecting.
    Connecting,
    /// Traffic flows; nothing is counted.
    Warmup,
    /// Traffic flows and is counted.
    Measure,
    /// No new traffic; what is under way still arrives (and, for broadcasts, is counted).
    Drain,
    /// Clients close.
    Stop,
}

#[derive(Default)]
struct Shared {
    /// Counted messages (deliveries or acks).
    count: AtomicU64,
    /// Broadcasts sent in the measured window.
    sent: AtomicU64,
    /// Clients through the Socket.IO CONNECT.
    connected: AtomicU64,
    /// Clients that failed or were closed by the server.
    errors: AtomicU64,
    /// Latency samples in microseconds, handed over by each client as it ends.
    latencies: Mutex<Vec<u32>>,
    first_error: Mutex<Option<String>>,
}

impl Shared {
    /// Counts a delivery or an ack, with its latency when `text` carries its send time.
    fn counted(&self, text: &str, lat: &mut Vec<u32>) {
        self.count.fetch_add(1, Ordering::Relaxed);
        if let Some(t) = timestamp(text) {
            lat.push(unix_micros().saturating_sub(t).min(u32::MAX as u64) as u32);
        }
    }

    /// Hands over a client's latency samples as it ends.
    fn keep_latencies(&self, lat: &[u32]) {
        self.latencies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(lat);
    }

    fn fail(&self, e: &BoxError) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut first = self.first_error.lock().unwrap_or_else(|p| p.into_inner());
        if first.is_none() {
            *first = Some(e.to_string());
        }
    }
}

fn unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros() as u64
}

/// CPU seconds (user + system) of process `pid`.
fn cpu_seconds(pid: u32) -> std::io::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces: the fields that follow start after its last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 3 of the man page, utime field 14, stime field 15.
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    Ok((ticks(11) + ticks(12)) as f64 / CLK_TCK)
}

/// `VmRSS` of process `pid`, in KiB.
fn rss_kib(pid: u32) -> std::io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    Ok(status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0))
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(","))
        .unwrap_or_default()
}

/// The number after `"t":` in a payload.
fn timestamp(text: &str) -> Option<u64> {
    let at = text.find("\"t\":")? + 4;
    let digits = text[at..].trim_start();
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

/// Whether a broadcast payload was sent in the measured window (`"m":1`).
fn measured(text: &str) -> bool {
    text.contains("\"m\":1")
}

/// One kept-alive HTTP/1.1 connection of a long-polling client.
type Http = tokio::io::BufReader<TcpStream>;

/// One request on `conn` (`query` after `transport=polling`); the body of a `200` answer.
async fn http(
    mut conn: Http,
    port: u16,
    post: Option<&'static [u8]>,
    query: String,
) -> (Http, Result<Vec<u8>, BoxError>) {
    let r = http_exchange(&mut conn, port, post, &query).await;
    (conn, r)
}

async fn http_exchange(
    conn: &mut Http,
    port: u16,
    post: Option<&[u8]>,
    query: &str,
) -> Result<Vec<u8>, BoxError> {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
    let body = post.unwrap_or_default();
    let head = format!(
        "{} /socket.io/?EIO=4&transport=polling{query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n\r\n",
        if post.is_some() { "POST" } else { "GET" },
        body.len()
    );
    conn.get_mut().write_all(head.as_bytes()).await?;
    conn.get_mut().write_all(body).await?;
    let mut line = String::new();
    let (mut status, mut len) = (None, None);
    loop {
        line.clear();
        if conn.read_line(&mut line).await? == 0 {
            return Err("connection closed by the server".into());
        }
        if status.is_none() {
            status = line.split(' ').nth(1).and_then(|s| s.parse::<u16>().ok());
        } else if line == "\r\n" {
            break;
        } else if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse::<usize>().ok();
        }
    }
    let len = len.ok_or("an answer without Content-Length")?;
    let mut out = vec![0; len];
    conn.read_exact(&mut out).await?;
    if status != Some(200) {
        return Err(format!("HTTP {status:?}: {}", String::from_utf8_lossy(&out)).into());
    }
    Ok(out)
}

/// A broadcast receiver over long-polling, from the handshake to `Phase::Stop`: counts the
/// measured `42` packets of every long-poll answer, answers pings with a `POST`.
async fn polling_receiver(
    port: u16,
    shared: &Shared,
    ctl: &mut watch::Receiver<Phase>,
    gate: &Semaphore,
    lat: &mut Vec<u32>,
) -> Result<(), BoxError> {
    let open = |port| async move {
        let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
        tcp.set_nodelay(true)?;
        Ok::<_, BoxError>(tokio::io::BufReader::new(tcp))
    };
    let (get, mut post, sid) = {
        let _permit = gate.acquire().await?;
        let setup = async {
            let (get, handshake) = http(open(port).await?, port, None, String::new()).await;
            let handshake = String::from_utf8(handshake?)?;
            let sid = handshake
                .split("\"sid\":\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .ok_or_else(|| format!("no sid in {handshake:?}"))?
                .to_owned();
            let (post, r) = http(open(port).await?, port, Some(b"40"), format!("&sid={sid}")).await;
            r?;
            Ok::<_, BoxError>((get, post, sid))
        };
        timeout(CONNECT_TIMEOUT, setup)
            .await
            .map_err(|_| "connect timed out")??
    };
    let query = format!("&sid={sid}");
    let mut poll = Box::pin(http(get, port, None, query.clone()));
    let mut connected = false;
    loop {
        tokio::select! {
            biased;
            changed = ctl.changed() => {
                if changed.is_err() || *ctl.borrow_and_update() == Phase::Stop {
                    return Ok(());
                }
            }
            (get, answer) = &mut poll => {
                let answer = answer?;
                let mut pong = false;
                for packet in answer.split(|&b| b == 0x1e) {
                    let text = std::str::from_utf8(packet)?;
                    if text.starts_with("40") && !connected {
                        connected = true;
                        shared.connected.fetch_add(1, Ordering::Relaxed);
                    } else if text == "2" {
                        pong = true;
                    } else if text.starts_with("42") && measured(text) {
                        shared.counted(text, lat);
                    } else if text.starts_with("41") || text == "1" {
                        return Err(format!("disconnected by the server: {text}").into());
                    }
                }
                poll = Box::pin(http(get, port, None, query.clone()));
                if pong {
                    let (back, r) = http(post, port, Some(b"3"), query.clone()).await;
                    r?;
                    post = back;
                }
            }
        }
    }
}

/// Opens the websocket and goes through the Engine.IO open and the Socket.IO CONNECT.
async fn connect(port: u16) -> Result<Ws, BoxError> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    tcp.set_nodelay(true)?;
    let url = format!("ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) = async_tungstenite::client_async(url, tcp.compat()).await?;
    let open = next_text(&mut ws).await?;
    if !open.starts_with("0{") {
        return Err(format!("expected an Engine.IO open packet, got {open:?}").into());
    }
    ws.send(Message::text("40")).await?;
    loop {
        let t = next_text(&mut ws).await?;
        if t.starts_with("40") {
            return Ok(ws);
        }
        if t == "2" {
            ws.send(Message::text("3")).await?;
        } else if t.starts_with("44") {
            return Err(format!("CONNECT refused: {t}").into());
        }
    }
}

async fn next_text(ws: &mut Ws) -> Result<String, BoxError> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return Ok(t.as_str().to_owned()),
            Some(Ok(Message::Close(_))) | None => return Err("closed by the server".into()),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
        }
    }
}

fn payload(pad: &str, measuring: bool) -> String {
    format!(
        r#"{{"t":{},"m":{},"p":"{pad}"}}"#,
        unix_micros(),
        u8::from(measuring)
    )
}

async fn maybe_tick(t: &mut Option<Interval>) {
    match t {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// One client from CONNECT to `Phase::Stop`.
async fn client(
    index: usize,
    args: Arc<Args>,
    shared: Arc<Shared>,
    mut ctl: watch::Receiver<Phase>,
    gate: Arc<Semaphore>,
) {
    let port = if args.port2 != 0 && index > 0 {
        args.port2
    } else {
        args.port
    };
    if args.polling && index > 0 {
        let mut lat = Vec::new();
        if let Err(e) = polling_receiver(port, &shared, &mut ctl, &gate, &mut lat).await {
            shared.fail(&e);
        }
        shared.keep_latencies(&lat);
        return;
    }
    let ws = {
        let _permit = gate.acquire().await;
        timeout(CONNECT_TIMEOUT, connect(port)).await
    };
    let mut ws = match ws {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => return shared.fail(&e),
        Err(_) => return shared.fail(&"connect timed out".into()),
    };
    shared.connected.fetch_add(1, Ordering::Relaxed);
    let mut lat = Vec::new();
    if let Err(e) = run_client(index, &args, &shared, &mut ctl, &mut ws, &mut lat).await {
        shared.fail(&e);
    }
    shared.keep_latencies(&lat);
    let _ = timeout(Duration::from_secs(1), ws.close(None)).await;
}

async fn run_client(
    index: usize,
    args: &Args,
    shared: &Shared,
    ctl: &mut watch::Receiver<Phase>,
    ws: &mut Ws,
    lat: &mut Vec<u32>,
) -> Result<(), BoxError> {
    let pad = "x".repeat(args.payload);
    let sender = args.mode == Mode::Broadcast && index == 0;
    let mut phase = *ctl.borrow_and_update();
    let mut ticker: Option<Interval> = None;
    let mut next_ack_id: u64 = 0;
    let mut outstanding = 0usize;
    loop {
        tokio::select! {
            biased;
            changed = ctl.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
                phase = *ctl.borrow_and_update();
                match phase {
                    Phase::Stop => return Ok(()),
                    Phase::Warmup | Phase::Measure if sender && ticker.is_none() => {
                        let mut t = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate));
                        t.set_missed_tick_behavior(MissedTickBehavior::Burst);
                        ticker = Some(t);
                    }
                    Phase::Warmup | Phase::Measure if args.mode == Mode::Echo => {
                        while outstanding < args.inflight {
                            send_echo(ws, &mut next_ack_id, &pad, phase).await?;
                            outstanding += 1;
                        }
                    }
                    Phase::Drain => ticker = None,
                    _ => {}
                }
            }
            _ = maybe_tick(&mut ticker) => {
                let m = phase == Phase::Measure;
                for _ in 0..args.burst {
                    ws.feed(Message::text(format!(r#"42["broadcast",{}]"#, payload(&pad, m)))).await?;
                }
                ws.flush().await?;
                if m {
                    shared.sent.fetch_add(args.burst as u64, Ordering::Relaxed);
                }
            }
            msg = ws.next() => {
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(_))) | None => return Err("closed by the server".into()),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Err(e.into()),
                };
                let text = text.as_str();
                let b = text.as_bytes();
                if b == b"2" {
                    ws.send(Message::text("3")).await?;
                } else if b.starts_with(b"42") {
                    let counted = match args.mode {
                        // In a cluster, the sender's own server's delivery is not counted.
                        Mode::Broadcast => measured(text) && !(sender && args.port2 != 0),
                        Mode::Tick => phase == Phase::Measure,
                        _ => false,
                    };
                    if counted {
                        shared.counted(text, lat);
                    }
                } else if b.starts_with(b"43") {
                    outstanding = outstanding.saturating_sub(1);
                    if phase == Phase::Measure {
                        shared.counted(text, lat);
                    }
                    if matches!(phase, Phase::Warmup | Phase::Measure) {
                        send_echo(ws, &mut next_ack_id, &pad, phase).await?;
                        outstanding += 1;
                    }
                } else if b.starts_with(b"41") || b == b"1" {
                    return Err(format!("disconnected by the server: {text}").into());
                }
            }
        }
    }
}

async fn send_echo(ws: &mut Ws, id: &mut u64, pad: &str, phase: Phase) -> Result<(), BoxError> {
    let text = format!(
        r#"42{}["echo",{}]"#,
        *id,
        payload(pad, phase == Phase::Measure)
    );
    *id += 1;
    ws.send(Message::text(text)).await?;
    Ok(())
}

fn percentile(sorted: &[u32], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    Some(sorted[i] as f64 / 1000.0)
}

fn main() {
    let args = Arc::new(parse_args());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()
        .unwrap_or_else(|e| {
            eprintln!("runtime: {e}");
            std::process::exit(1)
        });
    let code = rt.block_on(run(args));
    std::process::exit(code)
}

/// Open descriptors of process `pid`.
fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// `slowloris`: `rounds` times, half request heads held; one RESULT line per round (a second
/// round that ends where the first did shows that nothing leaked).
async fn slowloris(args: &Args) -> i32 {
    for round in 1..=args.rounds.max(1) {
        slowloris_round(args, round).await;
    }
    0
}

async fn slowloris_round(args: &Args, round: usize) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let pid = args.pid;
    let (rss0, fds0) = (rss_kib(pid).unwrap_or(0), fd_count(pid));
    let closed = Arc::new(AtomicU64::new(0));
    let opened = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..args.clients {
        let (port, closed, opened) = (args.port, closed.clone(), opened.clone());
        let hold = Duration::from_secs_f64(args.settle + 5.0);
        tasks.push(tokio::spawn(async move {
            let Ok(Ok(mut s)) =
                timeout(CONNECT_TIMEOUT, TcpStream::connect(("127.0.0.1", port))).await
            else {
                return;
            };
            let head = b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\n";
            if s.write_all(head).await.is_err() {
                return;
            }
            opened.fetch_add(1, Ordering::Relaxed);
            let mut buf = [0u8; 512];
            // Held until the server closes it, or the end of the run.
            loop {
                match timeout(hold, s.read(&mut buf)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => {
                        closed.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    Ok(Ok(_)) => {}
                    Err(_) => return,
                }
            }
        }));
    }
    let until = Instant::now() + CONNECT_TIMEOUT;
    while opened.load(Ordering::Relaxed) < args.clients as u64 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (rss1, fds1) = (rss_kib(pid).unwrap_or(0), fd_count(pid));
    let closed_early = closed.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs_f64(args.settle)).await;
    let (rss2, fds2) = (rss_kib(pid).unwrap_or(0), fd_count(pid));
    let closed_total = closed.load(Ordering::Relaxed);
    for t in tasks {
        t.abort();
    }
    println!(
        "RESULT label={} mode=slowloris round={round} clients={} rss_before_kib={rss0} rss_held_kib={rss1} \
         rss_after_kib={rss2} fds_before={fds0} fds_held={fds1} fds_after={fds2} \
         closed_by_server_at_1s={closed_early} closed_by_server={closed_total} settle_s={} loadavg={}",
        label(args),
        opened.load(Ordering::Relaxed),
        args.settle,
        loadavg()
    );
}

fn label(args: &Args) -> &str {
    if args.label.is_empty() {
        "-"
    } else {
        &args.label
    }
}

/// `slow-consumer`: one client stops reading while big broadcasts flow.
async fn slow_consumer(args: Arc<Args>) -> i32 {
    let pid = args.pid;
    let (rss0, fds0) = (rss_kib(pid).unwrap_or(0), fd_count(pid));
    let Ok(Ok(mut stalled)) = timeout(CONNECT_TIMEOUT, connect(args.port)).await else {
        eprintln!("the stalled client could not connect");
        return 1;
    };
    let shared = Arc::new(Shared::default());
    let (ctl_tx, ctl_rx) = watch::channel(Phase::Connecting);
    let gate = Arc::new(Semaphore::new(args.connect_concurrency));
    let mut tasks = Vec::new();
    for i in 0..args.clients {
        let mut a = (*args).clone();
        a.mode = Mode::Broadcast;
        tasks.push(tokio::spawn(client(
            i,
            Arc::new(a),
            shared.clone(),
            ctl_rx.clone(),
            gate.clone(),
        )));
    }
    drop(ctl_rx);
    let until = Instant::now() + CONNECT_TIMEOUT;
    while shared.connected.load(Ordering::Relaxed) + shared.errors.load(Ordering::Relaxed)
        < args.clients as u64
        && Instant::now() < until
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = ctl_tx.send(Phase::Measure);
    let t0 = Instant::now();
    let mut peak = rss0;
    let mut fds_peak = fds0;
    while t0.elapsed().as_secs_f64() < args.duration {
        tokio::time::sleep(Duration::from_millis(100)).await;
        peak = peak.max(rss_kib(pid).unwrap_or(0));
        fds_peak = fds_peak.max(fd_count(pid));
    }
    let _ = ctl_tx.send(Phase::Drain);
    tokio::time::sleep(Duration::from_secs_f64(args.settle)).await;
    let (rss2, fds2) = (rss_kib(pid).unwrap_or(0), fd_count(pid));
    let sent = shared.sent.load(Ordering::Relaxed);
    let delivered = shared.count.load(Ordering::Relaxed);
    let _ = ctl_tx.send(Phase::Stop);
    for t in tasks {
        let _ = timeout(Duration::from_secs(5), t).await;
    }
    // Whether the server dropped the stalled client: read what it had buffered, up to the end.
    let mut bytes = 0usize;
    let dropped = loop {
        match timeout(Duration::from_secs(2), stalled.next()).await {
            Ok(Some(Ok(m))) => bytes += m.len(),
            Ok(Some(Err(_))) | Ok(None) => break true,
            Err(_) => break false,
        }
    };
    println!(
        "RESULT label={} mode=slow-consumer clients={} payload={} broadcasts={sent} \
         deliveries_to_readers={delivered} expected_to_readers={} rss_before_kib={rss0} \
         rss_peak_kib={peak} rss_after_kib={rss2} fds_before={fds0} fds_peak={fds_peak} \
         fds_after={fds2} stalled_dropped_by_server={dropped} stalled_got_bytes={bytes} \
         errors={} loadavg={}",
        label(&args),
        args.clients,
        args.payload,
        sent * args.clients as u64,
        shared.errors.load(Ordering::Relaxed),
        loadavg()
    );
    0
}

async fn run(args: Arc<Args>) -> i32 {
    match args.mode {
        Mode::Slowloris => return slowloris(&args).await,
        Mode::SlowConsumer => return slow_consumer(args).await,
        _ => {}
    }
    let shared = Arc::new(Shared::default());
    let (ctl_tx, ctl_rx) = watch::channel(Phase::Connecting);
    let gate = Arc::new(Semaphore::new(args.connect_concurrency));
    let pid = args.pid;
    let n = args.clients as u64;

    let rss_before = rss_kib(pid).unwrap_or(0);
    let cpu_connect0 = cpu_seconds(pid).unwrap_or(0.0);
    let t_connect = Instant::now();
    let mut tasks = Vec::with_capacity(args.clients);
    for i in 0..args.clients {
        tasks.push(tokio::spawn(client(
            i,
            args.clone(),
            shared.clone(),
            ctl_rx.clone(),
            gate.clone(),
        )));
    }
    drop(ctl_rx);
    // Every client connects or fails, within a bound.
    let connect_deadline = Instant::now() + CONNECT_TIMEOUT * 2 + Duration::from_secs(n / 50);
    while shared.connected.load(Ordering::Relaxed) + shared.errors.load(Ordering::Relaxed) < n
        && Instant::now() < connect_deadline
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let connected = shared.connected.load(Ordering::Relaxed);
    let connect_wall = t_connect.elapsed().as_secs_f64();
    let cpu_connect = cpu_seconds(pid).unwrap_or(0.0) - cpu_connect0;
    if connected < n {
        eprintln!(
            "only {connected} of {n} clients connected: {}",
            shared
                .first_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
                .unwrap_or_default()
        );
    }
    let load_at_start = loadavg();

    let self_cpu0 = cpu_seconds(std::process::id()).unwrap_or(0.0);
    let mut rss_per_conn: Option<f64> = None;
    let mut lost: Option<i64> = None;
    // A cluster: the other server's and Redis's CPU over the same window.
    let others = [args.pid2, args.pid_redis];
    let others_cpu = |i: usize| (others[i] != 0).then(|| cpu_seconds(others[i]).unwrap_or(0.0));
    let (mut b_cpu, mut redis_cpu) = (None, None);
    // Receivers: on B only in a cluster.
    let receivers = if args.port2 != 0 {
        connected.saturating_sub(1)
    } else {
        connected
    };
    let (count, server_cpu, wall, rss_after) = match args.mode {
        Mode::Slowloris | Mode::SlowConsumer => unreachable!("handled above"),
        Mode::Idle => {
            tokio::time::sleep(Duration::from_secs_f64(args.settle)).await;
            let rss_after = rss_kib(pid).unwrap_or(0);
            rss_per_conn = Some((rss_after as f64 - rss_before as f64) / connected.max(1) as f64);
            (connected, cpu_connect, connect_wall, rss_after)
        }
        Mode::Broadcast | Mode::Echo | Mode::Tick => {
            let _ = ctl_tx.send(Phase::Warmup);
            tokio::time::sleep(WARMUP).await;
            let cpu0 = cpu_seconds(pid).unwrap_or(0.0);
            let (b0, r0) = (others_cpu(0), others_cpu(1));
            let t0 = Instant::now();
            let _ = ctl_tx.send(Phase::Measure);
            tokio::time::sleep(Duration::from_secs_f64(args.duration)).await;
            let _ = ctl_tx.send(Phase::Drain);
            if args.mode == Mode::Broadcast {
                // Counted: the deliveries of the broadcasts sent in the window, however late.
                let until = Instant::now() + DRAIN_MAX;
                loop {
                    let want = shared.sent.load(Ordering::Relaxed) * receivers;
                    let got = shared.count.load(Ordering::Relaxed);
                    if got >= want || Instant::now() >= until {
                        lost = Some(want as i64 - got as i64);
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
            b_cpu = others_cpu(0).zip(b0).map(|(b, b0)| b - b0);
            redis_cpu = others_cpu(1).zip(r0).map(|(r, r0)| r - r0);
            (
                shared.count.load(Ordering::Relaxed),
                cpu_seconds(pid).unwrap_or(0.0) - cpu0 + b_cpu.unwrap_or(0.0),
                t0.elapsed().as_secs_f64(),
                rss_kib(pid).unwrap_or(0),
            )
        }
    };
    let self_cpu = cpu_seconds(std::process::id()).unwrap_or(0.0) - self_cpu0;

    let _ = ctl_tx.send(Phase::Stop);
    let all = async {
        for t in tasks {
            let _ = t.await;
        }
    };
    if timeout(Duration::from_secs(10), all).await.is_err() {
        eprintln!("some clients did not end within 10 s");
    }
    let mut lat = std::mem::take(&mut *shared.latencies.lock().unwrap_or_else(|p| p.into_inner()));
    lat.sort_unstable();
    let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.2}"));
    let mode = match args.mode {
        Mode::Broadcast if args.burst > 1 => format!("burst{}", args.burst),
        Mode::Broadcast if args.polling => "polling-broadcast".to_owned(),
        m => format!("{m:?}").to_lowercase(),
    };
    let per_cpu = if server_cpu > 0.0 {
        format!("{:.0}", count as f64 / server_cpu)
    } else {
        "-".to_owned()
    };
    let what = match args.mode {
        Mode::Broadcast | Mode::Tick => "deliveries",
        Mode::Echo => "acks",
        Mode::Idle | Mode::Slowloris | Mode::SlowConsumer => "connections",
    };
    println!(
        "RESULT label={} mode={mode} clients={connected} {what}={count} server_cpu_s={server_cpu:.2} \
         per_server_cpu_s={per_cpu} wall_s={wall:.2} per_wall_s={:.0} p50_ms={} p99_ms={} \
         max_ms={} rss_before_kib={rss_before} rss_after_kib={rss_after} rss_per_conn_kib={} \
         lost={} errors={} connect_s={connect_wall:.2} connect_cpu_s={cpu_connect:.2} \
         loadgen_cpu_s={self_cpu:.2}{} loadavg={load_at_start}",
        if args.label.is_empty() { "-" } else { &args.label },
        count as f64 / wall.max(1e-9),
        ms(percentile(&lat, 0.50)),
        ms(percentile(&lat, 0.99)),
        ms(lat.last().map(|&v| v as f64 / 1000.0)),
        rss_per_conn.map_or("-".to_owned(), |v| format!("{v:.1}")),
        lost.map_or("-".to_owned(), |v| v.to_string()),
        shared.errors.load(Ordering::Relaxed),
        cluster_fields(count, server_cpu, b_cpu, redis_cpu),
    );
    i32::from(connected < n)
}

/// The cluster figures of a RESULT line (nothing outside a cluster run): the CPU of server B
/// alone (`server_cpu_s` is A + B), deliveries per CPU-second of B, and Redis's CPU.
fn cluster_fields(count: u64, both: f64, b: Option<f64>, redis: Option<f64>) -> String {
    let Some(b) = b else { return String::new() };
    let per_b = if b > 0.0 {
        format!("{:.0}", count as f64 / b)
    } else {
        "-".to_owned()
    };
    let redis = redis.map_or("-".to_owned(), |r| format!("{r:.2}"));
    format!(
        " a_cpu_s={:.2} b_cpu_s={b:.2} per_b_cpu_s={per_b} redis_cpu_s={redis}",
        both - b
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_timestamp_and_the_window_flag() {
        let t = r#"42["bcast",{"t":1712345678901234,"m":1,"p":"xx"}]"#;
        assert_eq!(timestamp(t), Some(1_712_345_678_901_234));
        assert!(measured(t));
        assert_eq!(timestamp(r#"437[{"t": 12,"m":0}]"#), Some(12));
        assert!(!measured(r#"437[{"t": 12,"m":0}]"#));
        assert_eq!(timestamp(r#"42["x",{}]"#), None);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile(&v, 0.5), Some(50.0));
        assert_eq!(percentile(&v, 0.99), Some(99.0));
        assert_eq!(percentile(&[], 0.99), None);
    }
}
