//! What goes in and out of a [`ServerSession`](super::ServerSession): inputs from the transport
//! and the clock, the immediate answer to one, transmits and events.

use bytes::Bytes;

use super::HttpResponse;
use crate::engine::{CloseReason, Frame, Message};
use crate::error::ProtocolError;

/// Something the runtime must write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transmit {
    /// Answer the held long-polling `GET` with this: a payload (200), or an error to a `GET`
    /// held while an upgrade was pending when the upgrade completes (the session no longer
    /// polls). A session that closes always answers its held `GET` (with `close` when nothing
    /// else is due).
    PollResponse(HttpResponse),
    /// Write this frame on the session's websocket (the active one, or the probing one during
    /// an upgrade).
    Ws(Frame),
    /// Write this frame on the session's websocket, never compressed (a packet sent with
    /// `compress(false)`, when the websocket has `permessage-deflate`).
    WsUncompressed(Frame),
    /// Close the websocket (after writing the frames transmitted before).
    WsClose,
}

/// What happened in a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A message from the client.
    Message(Message),
    /// A websocket probe succeeded (`3probe` sent); the upgrade is under way.
    Upgrading,
    /// The session now uses the websocket.
    Upgraded,
    /// The session is closed; no more transmits or events follow.
    Closed(CloseReason),
}

/// An input from the transport or the clock: what [`ServerSession::handle`](super::ServerSession::handle) (and the
/// Socket.IO [`Connection::handle`](crate::socket::server::Connection::handle)) takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A long-polling `GET` routed to the session. The reply is [`Reply::Held`] (the answer
    /// comes as a [`Transmit::PollResponse`]) or [`Reply::Http`] to answer at once.
    ///
    /// While an upgrade is pending (`3probe` sent), a new `GET` is held: it gets 400 if the
    /// upgrade completes, `noop` after [`EngineConfig::upgrade_noop_delay`](super::EngineConfig::upgrade_noop_delay) otherwise, and is
    /// handled normally if the upgrade is cancelled first. After a client `close` over
    /// long-polling, a late `GET` gets `noop` (see [`ServerSession::lingers`](super::ServerSession::lingers)).
    PollGet,
    /// A long-polling `POST` routed to the session has started; its body is still to come
    /// ([`Input::PollPost`]), or it ended without one ([`Input::PollPostAborted`]).
    ///
    /// The protocol allows one `POST` at a time: a second one while the first is in flight
    /// gets an empty 400 ([`Reply::Http`], to answer at once), and the session is closed with
    /// `transport error` (Node's "data request overlap from client"). Otherwise
    /// [`Reply::None`].
    PollPostStarted,
    /// The `POST` announced by [`Input::PollPostStarted`] ended without a body handed over
    /// (its connection went away, or the body was refused before it reached the session).
    PollPostAborted,
    /// A long-polling `POST` body (which ends the `POST` in flight, if one was announced).
    /// The reply is always [`Reply::Http`], the answer to the `POST`.
    PollPost(Bytes),
    /// The held long-poll `GET`'s connection went away before it was answered.
    PollAborted,
    /// The websocket of an upgrade (polling session, [`SessionRequest::WebSocket`](super::SessionRequest::WebSocket)) was
    /// accepted. [`Reply::Refused`], and the runtime closes that websocket, when upgrades are
    /// off or one is already under way.
    WsOpen,
    /// A frame read from the session's websocket (active or probing).
    WsFrame(Frame),
    /// The session's websocket closed (or failed, when `error` is set).
    WsClosed {
        /// The websocket failed rather than closed.
        error: bool,
    },
    /// The instant returned by [`ServerSession::poll_timeout`](super::ServerSession::poll_timeout) passed: fires every timer due.
    Timeout,
}

/// The session's immediate answer to an [`Input`]; most inputs get [`Reply::None`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Nothing to answer at once.
    None,
    /// The long-polling `GET` is held: its answer comes as [`Transmit::PollResponse`]
    /// (possibly from this very call's drain).
    Held,
    /// Answer the request at once with this: a `POST`'s answer, or a `GET` that is not held
    /// (`noop` for a `GET` that arrives after the client closed the session over
    /// long-polling, an error otherwise; empty 400 for an overlapping `GET` or `POST`).
    Http(HttpResponse),
    /// The websocket of [`Input::WsOpen`] is refused: close it.
    Refused(ProtocolError),
}
