//! Handler traits: closures with typed, serde-deserialised arguments, with or without an ack
//! responder, as `socket.on(event, ...)` accepts them.

use std::future::Future;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use sio_proto::socket::Packet;

use super::socket::{AckSender, Socket};
use crate::runtime::BoxFuture;

/// An event handler: `Fn(Socket)`, `Fn(Socket, T)` or `Fn(Socket, T, AckSender)` returning a
/// future. `T` is deserialised from the event's arguments: from the argument itself when there
/// is exactly one, from the array of arguments otherwise (use a tuple for several).
pub trait EventHandler<M>: Send + Sync + 'static {
    /// Calls the handler for one event.
    fn call(&self, socket: Socket, packet: Packet, ack: AckSender) -> BoxFuture<()>;
}

/// Marker: handler without data.
pub struct NoData;
/// Marker: handler with data.
pub struct WithData<T>(std::marker::PhantomData<T>);
/// Marker: handler with data and an ack responder.
pub struct WithAck<T>(std::marker::PhantomData<T>);

impl<F, Fut> EventHandler<NoData> for F
where
    F: Fn(Socket) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn call(&self, socket: Socket, _packet: Packet, _ack: AckSender) -> BoxFuture<()> {
        Box::pin((self)(socket))
    }
}

impl<F, Fut, T> EventHandler<WithData<T>> for F
where
    F: Fn(Socket, T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
    T: DeserializeOwned + Send + 'static,
{
    fn call(&self, socket: Socket, packet: Packet, _ack: AckSender) -> BoxFuture<()> {
        match crate::payload::from_payload::<T>(&packet.data, 1, &packet.attachments) {
            Ok(v) => Box::pin((self)(socket, v)),
            Err(e) => {
                socket.report_bad_args(&packet, &e);
                Box::pin(async {})
            }
        }
    }
}

impl<F, Fut, T> EventHandler<WithAck<T>> for F
where
    F: Fn(Socket, T, AckSender) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
    T: DeserializeOwned + Send + 'static,
{
    fn call(&self, socket: Socket, packet: Packet, ack: AckSender) -> BoxFuture<()> {
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
    Arc<dyn Fn(Socket, Packet, AckSender) -> BoxFuture<()> + Send + Sync>;

pub(crate) fn boxed<M, H: EventHandler<M>>(h: H) -> BoxedHandler {
    Arc::new(move |s, p, a| h.call(s, p, a))
}
