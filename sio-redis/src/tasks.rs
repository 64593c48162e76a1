//! The driver's two tasks — the subscriber (one pub/sub connection for every namespace, fed to
//! the namespaces' nodes, with their deadlines) and the publisher — and what the adapter does
//! with a node's events (the other servers' requests, done on this server's sockets).

use super::*;

/// Acts on one event of a namespace's node.
pub(super) fn on_event(shared: &Arc<Shared>, ns: &Arc<NsState>, e: NodeEvent) {
    let local = ns.local.get();
    match e {
        NodeEvent::Broadcast { packet, opts } => {
            if let Some(l) = local {
                let volatile = opts
                    .flags
                    .as_ref()
                    .and_then(|f| f.volatile())
                    .unwrap_or(false);
                l.deliver(&packet, &opts.to_filter(), volatile);
            }
        }
        NodeEvent::FetchRequested { request_id, opts } => {
            let sockets = local
                .map(|l| l.describe(&opts.to_filter()))
                .unwrap_or_default()
                .into_iter()
                .map(|s| FetchedSocket {
                    id: s.id.to_string(),
                    handshake: to_msgpack_value(&s.handshake),
                    rooms: s.rooms.iter().map(|r| r.to_string()).collect(),
                    data: to_msgpack_value(&s.data),
                })
                .collect();
            lock(&ns.node).answer_fetch(&request_id, sockets);
        }
        NodeEvent::SocketsRequested { request_id, rooms } => {
            let opts = BroadcastOptions {
                rooms,
                ..BroadcastOptions::default()
            };
            let ids = local
                .map(|l| l.describe(&opts.to_filter()))
                .unwrap_or_default()
                .into_iter()
                .map(|s| s.id.to_string())
                .collect();
            lock(&ns.node).answer_sockets(&request_id, ids);
        }
        NodeEvent::JoinRequested {
            target,
            rooms,
            request_id,
        } => membership(ns, local, &target, &rooms, request_id, Membership::Join),
        NodeEvent::LeaveRequested {
            target,
            rooms,
            request_id,
        } => membership(ns, local, &target, &rooms, request_id, Membership::Leave),
        NodeEvent::DisconnectRequested {
            target,
            close,
            request_id,
        } => {
            let f = target.to_filter();
            if let Some(l) = local {
                let found = !l.describe(&f).is_empty();
                l.disconnect(&f, close);
                answer_done(ns, request_id, found);
            }
        }
        NodeEvent::AllRoomsRequested { request_id } => {
            let rooms = local
                .map(|l| l.rooms())
                .unwrap_or_default()
                .iter()
                .map(|r| r.to_string())
                .collect();
            lock(&ns.node).answer_all_rooms(&request_id, rooms);
        }
        NodeEvent::ServerSideEmit { data, request_id } => {
            if let Some(l) = local {
                let answer = request_id.map(|id| {
                    let (shared, ns) = (shared.clone(), ns.clone());
                    Box::new(move |v: Value| {
                        lock(&ns.node).answer_server_side_emit(&id, v);
                        shared.flush(&ns);
                    }) as ServerSideAnswer
                });
                shared.rt.spawn(l.server_side_event(data, answer));
            }
        }
        NodeEvent::BroadcastWithAckRequested {
            request_id,
            packet,
            opts,
        } => {
            let timeout = opts
                .flags
                .as_ref()
                .and_then(|f| f.timeout_ms())
                .map_or(shared.options.requests_timeout, Duration::from_millis);
            let waits = local
                .map(|l| l.deliver_with_ack(&packet, &opts.to_filter(), Some(timeout)))
                .unwrap_or_default();
            lock(&ns.node).answer_broadcast_client_count(&request_id, waits.len() as u64);
            if !waits.is_empty() {
                let (sh, ns) = (shared.clone(), ns.clone());
                shared.rt.spawn(Box::pin(async move {
                    let mut waits: FuturesUnordered<_> = waits.into_iter().collect();
                    while let Some(ack) = waits.next().await {
                        if let Some(v) = ack {
                            lock(&ns.node).answer_broadcast_ack(&request_id, v);
                            sh.flush(&ns);
                        }
                    }
                }));
            }
        }
        NodeEvent::Completed {
            request_id,
            result,
            outcome,
        } => {
            if let Some(tx) = lock(&ns.waiting).remove(&request_id) {
                let _ = tx.send((result, outcome));
            }
        }
    }
}

/// Which way a remote membership change goes.
enum Membership {
    Join,
    Leave,
}

/// Another server makes sockets of this one join or leave `rooms`; the one-socket form is
/// answered when the socket is here.
fn membership(
    ns: &NsState,
    local: Option<&Arc<dyn LocalSockets>>,
    target: &Target,
    rooms: &[String],
    request_id: Option<String>,
    way: Membership,
) {
    let Some(l) = local else { return };
    let rooms: Vec<Room> = rooms.iter().map(|r| Room::from(r.as_str())).collect();
    let f = target.to_filter();
    let found = !l.describe(&f).is_empty();
    match way {
        Membership::Join => l.join(&f, &rooms),
        Membership::Leave => l.leave(&f, &rooms),
    }
    answer_done(ns, request_id, found);
}

pub(super) fn answer_done(ns: &NsState, request_id: Option<String>, found: bool) {
    if let (Some(id), true) = (request_id, found) {
        lock(&ns.node).answer_done(&id);
    }
}

/// Feeds `input` to a namespace's node and acts on what follows.
pub(super) fn feed(shared: &Arc<Shared>, ns: &Arc<NsState>, now: Instant, input: NodeInput) {
    lock(&ns.node).handle(now, input);
    drain(shared, ns);
}

/// Acts on the events a namespace's node has, and publishes what it queued.
pub(super) fn drain(shared: &Arc<Shared>, ns: &Arc<NsState>) {
    loop {
        let e = lock(&ns.node).poll_event();
        let Some(e) = e else { break };
        on_event(shared, ns, e);
    }
    shared.flush(ns);
}

/// The subscriber's connection: RESP3, its pushes (messages, confirmations, the end of the
/// connection) sent to the subscriber task within the inbound byte bound.
type SubConn = redis::aio::MultiplexedConnection;

/// What the subscriber has of one connection: the connection, its pushes, and how many bytes
/// of messages wait among them (counted per connection: what a lost connection left unread
/// goes with it).
struct Subscription {
    conn: SubConn,
    pushes: mpsc::UnboundedReceiver<redis::PushInfo>,
    waiting: Arc<AtomicUsize>,
}

/// Whether a push is a message (counted against the bound), not a confirmation.
fn is_message(info: &redis::PushInfo) -> bool {
    matches!(
        info.kind,
        redis::PushKind::Message | redis::PushKind::PMessage | redis::PushKind::SMessage
    )
}

/// Connects the subscriber; its pushes arrive on a receiver of its own (a new one for each
/// connection, so that the end of an old connection is never taken for the new one's).
async fn connect_subscriber(sh: &Arc<Shared>) -> redis::RedisResult<Subscription> {
    let (tx, pushes) = mpsc::unbounded();
    let waiting = Arc::new(AtomicUsize::new(0));
    let (weak, count, bound) = (
        Arc::downgrade(sh),
        waiting.clone(),
        sh.options.max_queued_bytes,
    );
    let sender = move |info: redis::PushInfo| -> Result<(), ()> {
        if is_message(&info) {
            let len = push_len(&info);
            if count.fetch_add(len, Ordering::AcqRel) + len > bound {
                count.fetch_sub(len, Ordering::AcqRel);
                if let Some(sh) = weak.upgrade() {
                    sh.dropped_inbound.fetch_add(1, Ordering::Relaxed);
                }
                return Ok(());
            }
        }
        tx.unbounded_send(info).map_err(|_| ())
    };
    let config = redis::AsyncConnectionConfig::new().set_push_sender(sender);
    let conn = sh
        .sub_client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    Ok(Subscription {
        conn,
        pushes,
        waiting,
    })
}

/// The bytes a message push holds, as counted against the inbound bound.
fn push_len(info: &redis::PushInfo) -> usize {
    info.data
        .iter()
        .map(|v| match v {
            redis::Value::BulkString(b) => b.len(),
            _ => 16,
        })
        .sum()
}

/// Subscribes one shard channel, or unsubscribes it. One channel a command: the connection
/// takes the one confirmation Redis pushes as the command's answer.
async fn shard(conn: &mut SubConn, subscribe: bool, channel: &str) -> redis::RedisResult<()> {
    redis::cmd(if subscribe {
        "SSUBSCRIBE"
    } else {
        "SUNSUBSCRIBE"
    })
    .arg(channel)
    .query_async::<redis::Value>(conn)
    .await
    .map(drop)
}

/// Subscribes everything a namespace's node names now.
pub(super) async fn subscribe(conn: &mut SubConn, ns: &NsState) -> redis::RedisResult<()> {
    let subs = lock(&ns.node).subscriptions();
    if !subs.patterns.is_empty() {
        conn.psubscribe(&subs.patterns).await?;
    }
    if !subs.channels.is_empty() {
        conn.subscribe(&subs.channels).await?;
    }
    for c in &subs.shard_channels {
        shard(conn, true, c).await?;
    }
    Ok(())
}

/// What woke the subscriber.
enum Wake {
    Push(Option<redis::PushInfo>),
    Cmd(Option<Cmd>),
    Timer,
}

/// The subscriber task: one RESP3 connection for every namespace, reconnected with back-off;
/// feeds each message to its namespace's node and fires the nodes' deadlines.
pub(super) async fn subscriber(shared: Weak<Shared>, mut cmds: mpsc::UnboundedReceiver<Cmd>) {
    let mut backoff = Duration::from_millis(100);
    let mut timer: Option<Pin<Box<dyn Sleep>>> = None;
    let mut armed: Option<Instant> = None;
    loop {
        let Some(sh) = shared.upgrade() else { return };
        let rt = sh.rt.clone();
        let Subscription {
            mut conn,
            mut pushes,
            waiting,
        } = match connect_subscriber(&sh).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "Redis subscriber cannot connect; retrying");
                drop(sh);
                rt.sleep_until(rt.now() + backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        let all: Vec<Arc<NsState>> = lock(&sh.namespaces).values().cloned().collect();
        let mut ok = true;
        for ns in &all {
            if let Err(e) = subscribe(&mut conn, ns).await {
                tracing::warn!(error = %e, "Redis subscriber cannot subscribe; retrying");
                ok = false;
                break;
            }
        }
        if !ok {
            drop(sh);
            rt.sleep_until(rt.now() + backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
            continue;
        }
        backoff = Duration::from_millis(100);
        sh.subscribed.store(true, Ordering::Release);
        drop(sh);
        loop {
            // The earliest deadline of every namespace.
            let next = shared.upgrade().and_then(|sh| {
                lock(&sh.namespaces)
                    .values()
                    .filter_map(|ns| lock(&ns.node).poll_timeout())
                    .min()
            });
            if next != armed {
                armed = next;
                timer = next.map(|d| rt.timer(d));
            }
            let wake = std::future::poll_fn(|cx| {
                if let Poll::Ready(m) = pushes.poll_next_unpin(cx) {
                    return Poll::Ready(Wake::Push(m));
                }
                if let Poll::Ready(c) = cmds.poll_next_unpin(cx) {
                    return Poll::Ready(Wake::Cmd(c));
                }
                if let Some(t) = timer.as_mut() {
                    if t.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Wake::Timer);
                    }
                }
                Poll::Pending
            })
            .await;
            let Some(sh) = shared.upgrade() else { return };
            let now = rt.now();
            let lost = match wake {
                Wake::Push(None) => true,
                Wake::Push(Some(info)) if info.kind == redis::PushKind::Disconnection => true,
                Wake::Push(Some(info)) => {
                    if is_message(&info) {
                        waiting.fetch_sub(push_len(&info), Ordering::AcqRel);
                        on_message(&sh, now, info);
                    }
                    false
                }
                Wake::Cmd(None) => return,
                Wake::Cmd(Some(cmd)) => on_cmd(&mut conn, cmd).await.is_err(),
                Wake::Timer => {
                    armed = None;
                    let all: Vec<Arc<NsState>> = lock(&sh.namespaces).values().cloned().collect();
                    for ns in all {
                        let due = lock(&ns.node).poll_timeout().is_some_and(|t| t <= now);
                        if due {
                            feed(&sh, &ns, now, NodeInput::Timeout);
                        }
                    }
                    false
                }
            };
            if lost {
                sh.subscribed.store(false, Ordering::Release);
                tracing::warn!("Redis subscriber connection lost; reconnecting");
                break;
            }
        }
        // Lost: requests under way end at their deadlines; reconnect after a pause.
        rt.sleep_until(rt.now() + backoff).await;
    }
}

/// A message pushed to the subscriber goes to its namespace's node. (The other pushes are
/// confirmations, which the connection also takes as the answers of the commands.)
fn on_message(sh: &Arc<Shared>, now: Instant, info: redis::PushInfo) {
    let Some(msg) = redis::Msg::from_push_info(info) else {
        return;
    };
    let channel = msg.get_channel_name().to_owned();
    let nsp = match channel::parse_classic(&sh.options.key, &channel) {
        Some(
            ClassicChannel::Broadcast { nsp }
            | ClassicChannel::Room { nsp, .. }
            | ClassicChannel::Request { nsp }
            | ClassicChannel::Response { nsp }
            | ClassicChannel::SpecificResponse { nsp, .. },
        ) => nsp.to_owned(),
        None => return,
    };
    let ns = lock(&sh.namespaces).get(&nsp).cloned();
    if let Some(ns) = ns {
        let payload = msg.get_payload_bytes().to_vec();
        feed(sh, &ns, now, NodeInput::Message { channel, payload });
    }
}

/// One command to the subscriber; an error means the connection is lost.
async fn on_cmd(conn: &mut SubConn, cmd: Cmd) -> redis::RedisResult<()> {
    match cmd {
        Cmd::Subscribe(ns) => subscribe(conn, &ns).await,
        Cmd::Wake => Ok(()),
        Cmd::Shard(on, channel) => shard(conn, on, &channel).await,
        Cmd::Barrier(done) => {
            let _ = done.send(());
            Ok(())
        }
    }
}

/// The publisher task: PUBLISH what the nodes queued, in order; a message that cannot be
/// published (Redis down) is dropped and counted.
pub(super) async fn publisher(shared: Weak<Shared>, mut rx: mpsc::UnboundedReceiver<Publish>) {
    while let Some(p) = rx.next().await {
        let Some(sh) = shared.upgrade() else { return };
        sh.queued_bytes
            .fetch_sub(p.payload.len() + p.channel.len(), Ordering::AcqRel);
        let publish = match sh.options.mode {
            AdapterMode::Classic => "PUBLISH",
            AdapterMode::Sharded(_) => "SPUBLISH",
        };
        let r = match sh.connection().await {
            Ok(mut c) => redis::cmd(publish)
                .arg(&p.channel)
                .arg(&p.payload)
                .query_async::<()>(&mut c)
                .await
                .map_err(unavailable),
            Err(e) => Err(e),
        };
        if let Err(e) = r {
            *lock(&sh.conn) = None;
            sh.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(error = %e, channel = %p.channel, "cluster message not published");
        }
    }
}
