//! Unit tests of the connection task.

use super::*;
use crate::server::inbox::{channel, InboxLimits};
use sio_proto::engine::TransportKind;

/// Collects what is spawned; the test runs it.
#[derive(Default)]
struct Collect(std::sync::Mutex<Vec<BoxFuture<()>>>);

impl crate::Runtime for Collect {
    fn spawn(&self, f: BoxFuture<()>) {
        crate::sync::lock(&self.0).push(f);
    }
    fn sleep_until(&self, _d: Instant) -> BoxFuture<()> {
        Box::pin(std::future::pending())
    }
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn connect(&self, _h: &str, _p: u16) -> BoxFuture<std::io::Result<crate::runtime::BoxStream>> {
        Box::pin(async { Err(std::io::Error::other("no network")) })
    }
}

impl Collect {
    /// Polls what was spawned until each is done (they must not wait on anything).
    fn run_all(&self) {
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let fs: Vec<BoxFuture<()>> = std::mem::take(&mut *crate::sync::lock(&self.0));
        for mut f in fs {
            assert!(
                f.as_mut().poll(&mut cx).is_ready(),
                "a spawned future waits"
            );
        }
    }
}

/// A connection task dropped half-way (as when something in it panicked) still removes
/// its session, takes its sockets out of their namespace and rooms, and runs their
/// disconnect handlers.
#[test]
fn a_task_dropped_half_way_cleans_up() {
    let rt = Arc::new(Collect::default());
    let server = crate::Server::new(rt.clone(), Default::default());
    let inner = server.inner.clone();
    let now = inner.rt.now();
    let (h, rx) = channel(inner.config.inbox_limits(), TransportKind::WebSocket);
    let session = crate::sync::lock(&inner.router).accept(now, TransportKind::WebSocket, h.clone());
    let machine = Machine::new(now, session, &inner);
    let ns = server.of("/");
    let socket = Socket::new("s1".into(), ns.clone(), h.clone(), Handshake::default());
    socket.inner.connected.store(true, Ordering::Release);
    ns.add_socket(&socket);
    socket.join(["room"]);
    let reasons: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let r = reasons.clone();
    socket.on_disconnect(move |_s, reason| {
        let r = r.clone();
        async move { crate::sync::lock(&r).push(reason.to_string()) }
    });
    let mut task = ConnTask::new(
        inner.clone(),
        machine,
        h,
        rx,
        None,
        None,
        Handshake::default(),
    );
    task.sockets.push((ns.nsp(), socket.clone()));
    assert_eq!((server.session_count(), ns.sockets().len()), (1, 1));

    drop(task);
    assert_eq!(server.session_count(), 0);
    rt.run_all();
    assert!(!socket.connected());
    assert!(ns.sockets().is_empty());
    assert!(socket.rooms().is_empty());
    assert_eq!(*crate::sync::lock(&reasons), ["transport error"]);
}

/// One future per connection lives as long as the connection: it must hold the task once
/// (an `async fn run(mut self)` holds it twice, about 1 KiB more per connection).
#[test]
fn the_task_future_holds_the_task_once() {
    let server = crate::Server::new(Arc::new(Collect::default()), Default::default());
    let inner = server.inner.clone();
    let now = inner.rt.now();
    let (h, rx) = channel(
        InboxLimits {
            packets: 10,
            bytes: 1 << 20,
        },
        TransportKind::WebSocket,
    );
    let session = crate::sync::lock(&inner.router).accept(now, TransportKind::WebSocket, h.clone());
    let machine = Machine::new(now, session, &inner);
    let task = ConnTask::new(
        inner.clone(),
        machine,
        h,
        rx,
        None,
        None,
        Handshake::default(),
    );
    let task_size = std::mem::size_of_val(&task);
    let future_size = std::mem::size_of_val(&task.run());
    assert!(
        future_size < task_size * 3 / 2,
        "{future_size} B for a {task_size} B task"
    );
}
