//! Events between the servers of a cluster (Node's `serverSideEmit` and its listeners), and
//! the conversions between the values a cluster carries (`sio_proto::cluster::Value`,
//! MessagePack) and what our sockets and handlers take (JSON with binary attachments).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sio_proto::cluster::{bridge, Packet as ClusterPacket, Value};
use sio_proto::socket::{Nsp, Packet};

use super::adapter::{ClusterError, ServerSideAck, ServerSideAnswer};
use super::inbox::EmitError;
use super::namespace::Namespace;
use super::namespace::ServerSideHandler;
use super::socket::encode_event;
use crate::runtime::BoxFuture;
use crate::sync::{read, write};

/// `value` (one argument, as a cluster carries it) read as `R`, as an ack argument of our
/// sockets is read: binaries fill `bytes::Bytes` fields.
pub(crate) fn decode_value<R: DeserializeOwned + 'static>(
    value: Value,
    nsp: &Nsp,
) -> Result<R, ClusterError> {
    let p = ClusterPacket::event(vec![Value::from(""), value], None);
    let p = bridge::to_socket_packet(&p, nsp).map_err(|e| ClusterError::Payload(e.to_string()))?;
    crate::payload::decode::<R>(&p.data, 1, &p.attachments)
        .map_err(|e| ClusterError::Payload(e.to_string()))
}

/// The first argument of an ack packet as a cluster value (`Nil` for an ack without
/// arguments); `None` when it cannot be carried.
pub(crate) fn first_arg(ack: &Packet) -> Option<Value> {
    let as_event = Packet::event(
        ack.nsp.clone(),
        ack.data.clone(),
        None,
        ack.attachments.clone(),
    );
    match bridge::from_socket_packet(&as_event).ok()?.data {
        Value::Array(args) => Some(args.into_iter().next().unwrap_or(Value::Nil)),
        _ => None,
    }
}

/// Server-side events (Node's `serverSideEmit` and `io.on(event, ..)` for events of other
/// servers).
impl Namespace {
    /// Registers a listener for `event` emitted by another server of the cluster with
    /// `server_side_emit` (ours or Node's `serverSideEmit`). `T` takes the arguments as a
    /// socket handler's data does (a tuple for several; see [`crate::handler::EventHandler`]);
    /// arguments that do not fit `T` do not run it (a `tracing` warning). `ack` answers an
    /// emit that waits for one ([`ServerSideAck::expected`]).
    pub fn on_server_side<T, F, Fut>(&self, event: &str, f: F)
    where
        T: DeserializeOwned + Send + 'static,
        F: Fn(T, ServerSideAck) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let name = event.to_owned();
        let h: ServerSideHandler = Arc::new(move |p: &Packet, ack| {
            match crate::payload::decode::<T>(&p.data, 1, &p.attachments) {
                Ok(v) => Box::pin(f(v, ack)),
                Err(e) => {
                    tracing::warn!(event = %name, error = %e, "server-side event arguments do not fit the listener");
                    Box::pin(async {})
                }
            }
        });
        write(&self.inner.server_side)
            .entry(event.to_owned())
            .or_default()
            .push(h);
    }

    /// Emits `event` to the other servers of the cluster (Node's `serverSideEmit`), not to
    /// this one; `data` spreads into arguments as for a socket's `emit`. With a single
    /// server (the in-memory adapter), it reaches nobody.
    pub fn server_side_emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<(), EmitError> {
        let data = self.server_side_values(event, data)?;
        self.inner.adapter.server_side_emit_remote(data);
        Ok(())
    }

    /// Emits `event` to the other servers and waits for one answer from each (Node's
    /// `serverSideEmit` with a callback): their answers in arrival order, or
    /// [`ClusterError::Timeout`] when some server did not answer within `timeout` (or the
    /// adapter's request timeout). With no other server: no answers, at once.
    pub async fn server_side_emit_with_ack<T, R>(
        &self,
        event: &str,
        data: &T,
        timeout: Option<Duration>,
    ) -> Result<Vec<R>, ClusterError>
    where
        T: Serialize + ?Sized,
        R: DeserializeOwned + 'static,
    {
        let data = self
            .server_side_values(event, data)
            .map_err(|e| ClusterError::Payload(e.to_string()))?;
        let answers = self
            .inner
            .adapter
            .server_side_emit_with_ack_remote(data, timeout)
            .await?;
        let nsp = self.nsp();
        answers.into_iter().map(|v| decode_value(v, &nsp)).collect()
    }

    /// `[event, ...args]` as a cluster carries them.
    fn server_side_values<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<Vec<Value>, EmitError> {
        let p = encode_event(&self.nsp(), event, data, None)?;
        match bridge::from_encoded(&p).map(|p| p.data) {
            Ok(Value::Array(v)) => Ok(v),
            Ok(_) => Err(EmitError::Cluster("event data is not an array".to_owned())),
            Err(e) => Err(EmitError::Cluster(e.to_string())),
        }
    }

    /// Runs the listeners of another server's event `data` (`[event, ...args]`).
    pub(crate) fn run_server_side(
        &self,
        data: Vec<Value>,
        answer: Option<ServerSideAnswer>,
    ) -> BoxFuture<()> {
        let Some(name) = data.first().and_then(|v| v.as_str()).map(str::to_owned) else {
            return Box::pin(async {});
        };
        let handlers = read(&self.inner.server_side)
            .get(&name)
            .cloned()
            .unwrap_or_default();
        if handlers.is_empty() {
            tracing::debug!(event = %name, "server-side event without listener");
            return Box::pin(async {});
        }
        let packet = match bridge::to_socket_packet(&ClusterPacket::event(data, None), &self.nsp())
        {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(event = %name, error = %e, "server-side event dropped");
                return Box::pin(async {});
            }
        };
        let ack = ServerSideAck::new(answer);
        let runs: Vec<BoxFuture<()>> = handlers.iter().map(|h| h(&packet, ack.clone())).collect();
        Box::pin(crate::runtime::contained(
            "a server-side listener",
            async move {
                join_all(runs).await;
            },
        ))
    }
}
