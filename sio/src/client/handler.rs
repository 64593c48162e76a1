//! Client event handlers: closures with typed, serde-deserialised arguments, with or without
//! an ack responder, as [`super::ClientSocket::on`] accepts them.

use std::future::Future;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use sio_proto::socket::Packet;

use super::socket::{ClientAckSender, ClientSocket};
use crate::runtime::BoxFuture;

/// An event handler of the client: `Fn(ClientSocket)`, `Fn(ClientSocket, T)` or
/// `Fn(ClientSocket, T, ClientAckSender)` returning a future. `T` is deserialised from the
/// event's arguments: from the argument itself when there is exactly one, from the array of
/// arguments otherwise (use a tuple for several). `bytes::Bytes` fields receive binary
/// attachments. With a [`ClientAckSender`], the handler can answer a server that asked for an
/// ack (`socket.emitWithAck` on the Node side).
pub trait ClientEventHandler<M>: Send + Sync + 'static {
    /// Calls the handler for one event.
    fn call(&self, socket: ClientSocket, packet: Packet, ack: ClientAckSender) -> BoxFuture<()>;
}

/// Marker: handler without data.
#[derive(Debug)]
pub struct NoData;
/// Marker: handler with data.
#[derive(Debug)]
pub struct WithData<T>(std::marker::PhantomData<T>);
/// Marker: handler with data and an ack responder.
#[derive(Debug)]
pub struct WithAck<T>(std::marker::PhantomData<T>);

impl<F, Fut> ClientEventHandler<NoData> for F
where
    F: Fn(ClientSocket) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn call(&self, socket: ClientSocket, _packet: Packet, _ack: ClientAckSender) -> BoxFuture<()> {
        Box::pin((self)(socket))
    }
}

impl<F, Fut, T> ClientEventHandler<WithData<T>> for F
where
    F: Fn(ClientSocket, T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
    T: DeserializeOwned + Send + 'static,
{
    fn call(&self, socket: ClientSocket, packet: Packet, _ack: ClientAckSender) -> BoxFuture<()> {
        match crate::payload::from_payload::<T>(&packet.data, 1, &packet.attachments) {
            Ok(v) => Box::pin((self)(socket, v)),
            Err(e) => {
                socket.report_bad_args(&packet, &e);
                Box::pin(async {})
            }
        }
    }
}

impl<F, Fut, T> ClientEventHandler<WithAck<T>> for F
where
    F: Fn(ClientSocket, T, ClientAckSender) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
    T: DeserializeOwned + Send + 'static,
{
    fn call(&self, socket: ClientSocket, packet: Packet, ack: ClientAckSender) -> BoxFuture<()> {
        match crate::payload::from_payload::<T>(&packet.data, 1, &packet.attachments) {
            Ok(v) => Box::pin((self)(socket, v, ack)),
            Err(e) => {
                socket.report_bad_args(&packet, &e);
                Box::pin(async {})
            }
        }
    }
}

/// A type-erased event handler.
pub(crate) type BoxedHandler =
    Arc<dyn Fn(ClientSocket, Packet, ClientAckSender) -> BoxFuture<()> + Send + Sync>;

pub(crate) fn boxed<M, H: ClientEventHandler<M>>(h: H) -> BoxedHandler {
    Arc::new(move |s, p, a| h.call(s, p, a))
}
