//! The adapter hooks a cluster adapter relies on: broadcasts and `server_side_emit` reach
//! `*_remote` (unless `local`), rooms go through the adapter.

use std::sync::{Arc, Mutex};

use sio::server::{Adapter, InMemoryAdapter, SocketId};
use sio::ServerConfig;
use sio_proto::rooms::{BroadcastFilter, Room};
use sio_proto::socket::EncodedPacket;

#[derive(Default)]
struct Recording {
    inner: InMemoryAdapter,
    remote: Arc<Mutex<Vec<String>>>,
}

impl Adapter for Recording {
    fn add_socket(&self, id: &SocketId) {
        self.inner.add_socket(id)
    }
    fn join(&self, id: &SocketId, rooms: &[&str]) {
        self.inner.join(id, rooms)
    }
    fn leave(&self, id: &SocketId, room: &str) {
        self.inner.leave(id, room)
    }
    fn remove_socket(&self, id: &SocketId) -> Vec<Room> {
        self.inner.remove_socket(id)
    }
    fn rooms_of(&self, id: &SocketId) -> Vec<Room> {
        self.inner.rooms_of(id)
    }
    fn rooms(&self) -> Vec<Room> {
        self.inner.rooms()
    }
    fn for_each_recipient(&self, f: &BroadcastFilter<SocketId>, cb: &mut dyn FnMut(&SocketId)) {
        self.inner.for_each_recipient(f, cb)
    }
    fn broadcast_remote(&self, packet: &EncodedPacket, filter: &BroadcastFilter<SocketId>) {
        let rooms: Vec<String> = filter.rooms.iter().map(|r| r.to_string()).collect();
        self.remote.lock().unwrap().push(format!(
            "broadcast {} to {rooms:?}",
            String::from_utf8_lossy(&packet.text)
        ));
    }
    fn server_side_emit_remote(&self, packet: &EncodedPacket) {
        self.remote.lock().unwrap().push(format!(
            "server-side {}",
            String::from_utf8_lossy(&packet.text)
        ));
    }
}

#[test]
fn broadcasts_and_server_side_emits_reach_the_adapter() {
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let l2 = log.clone();
    let config = ServerConfig {
        adapter: Arc::new(move |_| {
            Box::new(Recording {
                remote: l2.clone(),
                ..Recording::default()
            })
        }),
        ..ServerConfig::default()
    };
    let io = sio::Server::new(Arc::new(sio_tokio::TokioRuntime), config);
    io.to("room1").emit("news", "hello").unwrap();
    io.of("/chat")
        .broadcast()
        .local()
        .emit("local-only", &())
        .unwrap();
    io.server_side_emit("sync", &1).unwrap();
    assert_eq!(
        *log.lock().unwrap(),
        vec![
            "broadcast 42[\"news\",\"hello\"] to [\"room1\"]".to_owned(),
            "server-side 42[\"sync\",1]".to_owned(),
        ]
    );
}
