//! Event handlers, shared by the server's [`Socket`](crate::Socket) and the client's
//! [`ClientSocket`](crate::client::ClientSocket): closures with typed, serde-deserialised
//! arguments, with or without an ack responder.

use std::future::Future;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use sio_proto::socket::Packet;

use crate::payload::PayloadError;
use crate::runtime::BoxFuture;

/// A socket that event handlers receive: what its ack responder is, and where argument errors
/// go.
pub trait HandlerSocket: Clone + Send + 'static {
    /// The ack responder handed to `Fn(socket, data, ack)` handlers.
    type Ack: Send + 'static;
    /// Reports arguments that did not deserialise into the handler's type (a `tracing`
    /// warning and the socket's `on_error` listeners); the handler does not run.
    fn report_bad_args(&self, packet: &Packet, e: &PayloadError);
}

/// An event handler for sockets of type `S`: `Fn(S)`, `Fn(S, T)` or `Fn(S, T, S::Ack)`
/// returning a future. `T` takes the event's arguments as a JavaScript function takes its
/// parameters (see [`crate::payload::from_payload`]): a tuple is the parameter list, most
/// other types the first argument, [`crate::Args`] all of them as they came; extra
/// arguments are ignored, a missing one is `None` for an `Option`. `bytes::Bytes` fields
/// receive binary attachments. Arguments that do not fit `T` do not run the handler: they
/// are reported ([`HandlerSocket::report_bad_args`]).
pub trait EventHandler<S: HandlerSocket, M>: Send + Sync + 'static {
    /// Calls the handler for one event.
    fn call(&self, socket: S, packet: Packet, ack: S::Ack) -> BoxFuture<()>;
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

impl<S, F, Fut> EventHandler<S, NoData> for F
where
    S: HandlerSocket,
    F: Fn(S) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn call(&self, socket: S, _packet: Packet, _ack: S::Ack) -> BoxFuture<()> {
        Box::pin((self)(socket))
    }
}

impl<S, F, Fut, T> EventHandler<S, WithData<T>> for F
where
    S: HandlerSocket,
    F: Fn(S, T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
    T: DeserializeOwned + Send + 'static,
{
    fn call(&self, socket: S, packet: Packet, _ack: S::Ack) -> BoxFuture<()> {
        match crate::payload::decode::<T>(&packet.data, 1, &packet.attachments) {
            Ok(v) => Box::pin((self)(socket, v)),
            Err(e) => {
                socket.report_bad_args(&packet, &e);
                Box::pin(async {})
            }
        }
    }
}

impl<S, F, Fut, T> EventHandler<S, WithAck<T>> for F
where
    S: HandlerSocket,
    F: Fn(S, T, S::Ack) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
    T: DeserializeOwned + Send + 'static,
{
    fn call(&self, socket: S, packet: Packet, ack: S::Ack) -> BoxFuture<()> {
        match crate::payload::decode::<T>(&packet.data, 1, &packet.attachments) {
            Ok(v) => Box::pin((self)(socket, v, ack)),
            Err(e) => {
                socket.report_bad_args(&packet, &e);
                Box::pin(async {})
            }
        }
    }
}

/// A type-erased event handler.
pub(crate) type BoxedHandler<S> =
    Arc<dyn Fn(S, Packet, <S as HandlerSocket>::Ack) -> BoxFuture<()> + Send + Sync>;

pub(crate) fn boxed<S: HandlerSocket, M, H: EventHandler<S, M>>(h: H) -> BoxedHandler<S> {
    Arc::new(move |s, p, a| h.call(s, p, a))
}
