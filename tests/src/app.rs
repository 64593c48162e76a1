//! The server application the interop scenarios talk to: one handler per feature.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sio::{AckSender, Args, ConnectError, Namespace, Server, ServerConfig, Socket};

/// The scenario server's configuration (Node's defaults but a short connect timeout).
pub fn config() -> ServerConfig {
    ServerConfig::default().connect_timeout(Duration::from_secs(10))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct File {
    name: String,
    data: Bytes,
    parts: Vec<Bytes>,
}

#[derive(Debug, Clone, Serialize)]
struct Inner {
    inner: Bytes,
}

#[derive(Debug, Clone, Deserialize)]
struct ToRoom {
    rooms: Vec<String>,
    #[serde(default)]
    except: Vec<String>,
    msg: Value,
}

#[derive(Clone, Default)]
struct Seen {
    events: Arc<Mutex<Vec<String>>>,
    outgoing: Arc<Mutex<Vec<String>>>,
    errors: Arc<Mutex<Vec<String>>>,
    /// What the `first-string` handler received (it runs only for arguments that fit).
    ran: Arc<Mutex<Vec<String>>>,
}

#[derive(Clone, Default)]
struct RoomsAtDisconnect(Vec<String>);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Installs every handler.
pub fn setup(io: &Server) {
    let created: Arc<Mutex<Vec<String>>> = Arc::default();
    for name in ["/", "/chat", "/news", "/private"] {
        install(&io.of(name), created.clone());
    }
    io.of("/private").use_middleware(|s: Socket| async move {
        if s.handshake().auth.get("token").and_then(Value::as_str) == Some("secret") {
            Ok(())
        } else {
            Err(ConnectError::new("Not authorized")
                .with_data(json!({"code": 401, "hint": "send a token"})))
        }
    });
    let c2 = created.clone();
    io.of_dynamic(
        |name| {
            name.strip_prefix("/dyn-")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        },
        move |ns| {
            lock(&c2).push(ns.name().to_owned());
            install(ns, c2.clone());
        },
    );
}

fn install(ns: &Namespace, created: Arc<Mutex<Vec<String>>>) {
    ns.on_connection(move |s: Socket| {
        let created = created.clone();
        async move { on_connection(s, created) }
    });
}

fn on_connection(s: Socket, created: Arc<Mutex<Vec<String>>>) {
    let _ = s.emit("welcome", &json!({"id": s.id(), "nsp": s.ns().name()}));

    let seen = Seen::default();
    s.set_data(seen.clone());
    let ev = seen.events.clone();
    s.on_any(move |_, event, _| lock(&ev).push(event.to_owned()));
    s.use_packet(|_, event, _| {
        if event == "blocked-event" {
            Err("blocked by middleware".into())
        } else {
            Ok(())
        }
    });
    let out = seen.outgoing.clone();
    s.on_any_outgoing(move |_, event| lock(&out).push(event.to_owned()));
    let errs = seen.errors.clone();
    s.on_error(move |_, e| lock(&errs).push(e.to_owned()));

    s.on("whoami", |s: Socket, _: Value, ack: AckSender| async move {
        let _ = ack.send(&json!({"id": s.id(), "transport": s.transport()}));
    });
    s.on(
        "handshake",
        |s: Socket, _: Value, ack: AckSender| async move {
            let h = s.handshake();
            let _ = ack.send(&json!({
                "query": h.query_param("room"),
                "auth": h.auth,
                "address": h.address.map(|a| a.to_string()),
            }));
        },
    );
    s.on("echo", |_: Socket, v: Value, ack: AckSender| async move {
        let _ = ack.send(&v);
    });
    s.on("sum", |_: Socket, v: Vec<i64>, ack: AckSender| async move {
        let _ = ack.send(&(v.iter().sum::<i64>(), v.len()));
    });
    s.on("ask-me-cb", |s: Socket, n: i64| async move {
        let s2 = s.clone();
        let _ = s.emit_with_ack_callback(
            "question",
            &n,
            Some(Duration::from_millis(500)),
            move |r: Result<i64, sio::AckError>| {
                let _ = match r {
                    Ok(v) => s2.emit("answer", &v),
                    Err(e) => s2.emit("answer", &e.to_string()),
                };
            },
        );
    });
    s.on(
        "outgoing-seen",
        |s: Socket, _: Value, ack: AckSender| async move {
            let seen = s.data::<Seen>().unwrap_or_default();
            let list = lock(&seen.outgoing).clone();
            let _ = ack.send(&list);
        },
    );
    s.on("ask-me", |s: Socket, n: i64| async move {
        let r = s
            .emit_with_ack::<_, i64>("question", &n, Some(Duration::from_millis(500)))
            .await;
        let _ = match r {
            Ok(v) => s.emit("answer", &v),
            Err(sio::AckError::Timeout) => s.emit("answer", "timeout"),
            Err(e) => s.emit("answer", &e.to_string()),
        };
    });
    s.on(
        "binary-echo",
        |_: Socket, f: File, ack: AckSender| async move {
            let _ = ack.send(&f);
        },
    );
    s.on("send-me-binary", |s: Socket| async move {
        let _ = s.emit(
            "binary",
            &(
                Bytes::from_static(&[0xde, 0xad]),
                Inner {
                    inner: Bytes::from_static(&[0xbe, 0xef]),
                },
            ),
        );
    });
    s.on("seq-echo", |s: Socket, i: u64| async move {
        let _ = s.emit("seq", &i);
    });
    s.on(
        "message",
        |s: Socket, (text, n): (String, i64)| async move {
            let _ = s.send(&(format!("{text} back"), n));
        },
    );
    s.on(
        "join",
        |s: Socket, rooms: Vec<String>, ack: AckSender| async move {
            s.join(rooms.iter().map(String::as_str));
            let _ = ack.send(&());
        },
    );
    s.on(
        "leave",
        |s: Socket, room: String, ack: AckSender| async move {
            s.leave(&room);
            let _ = ack.send(&());
        },
    );
    s.on(
        "my-rooms",
        |s: Socket, _: Value, ack: AckSender| async move {
            let rooms: Vec<String> = s.rooms().iter().map(|r| r.to_string()).collect();
            let _ = ack.send(&rooms);
        },
    );
    s.on("to-room", |s: Socket, t: ToRoom| async move {
        let mut op = s.ns().broadcast();
        for r in t.rooms {
            op = op.to(r);
        }
        for e in t.except {
            op = op.except(e);
        }
        let _ = op.emit("room-msg", &t.msg);
    });
    s.on("uncompressed-echo", |s: Socket, v: Value| async move {
        let _ = s.compress(false).emit("echoed", &v);
        let _ = s.ns().to(s.id()).compress(false).emit("echoed-room", &v);
        let _ = s.compress(true).emit("echoed-compressed", &v);
    });
    s.on("to-room-binary", |s: Socket, room: String| async move {
        let _ = s
            .ns()
            .to(room)
            .emit("bin", &Bytes::from_static(&[1, 2, 3, 4]));
    });
    s.on("shout", |s: Socket, msg: Value| async move {
        let _ = s.broadcast().emit("shouted", &msg);
    });
    s.on(
        "created-namespaces",
        move |_: Socket, _: Value, ack: AckSender| {
            let list = lock(&created).clone();
            async move {
                let _ = ack.send(&list);
            }
        },
    );
    s.on("kick-me", |s: Socket| async move { s.disconnect(false) });
    s.on(
        "kick-me-hard",
        |s: Socket| async move { s.disconnect(true) },
    );
    s.on("close-my-transport", |s: Socket| async move {
        s.close_connection()
    });
    s.on_disconnecting(|s, _| {
        let rooms = s.rooms().iter().map(|r| r.to_string()).collect();
        s.set_data(RoomsAtDisconnect(rooms));
    });
    s.on_disconnect(|s: Socket, reason| async move {
        let rooms = s.data::<RoomsAtDisconnect>().unwrap_or_default().0;
        let _ = s
            .ns()
            .to("observers")
            .emit("left", &json!({"reason": reason.as_str(), "rooms": rooms}));
    });
    s.on(
        "everyone-join",
        |s: Socket, room: String, ack: AckSender| async move {
            let ns = s.ns().clone();
            ns.sockets_join([room.as_str()]);
            let _ = ns.to(room).emit("all-joined", &());
            let n = ns.fetch_sockets().await.map(|v| v.len()).unwrap_or(0);
            let _ = ack.send(&n);
        },
    );
    s.on(
        "fetch-ids",
        |s: Socket, _: Value, ack: AckSender| async move {
            let ids: Vec<String> = s
                .ns()
                .fetch_sockets()
                .await
                .unwrap_or_default()
                .iter()
                .map(|x| x.id().to_owned())
                .collect();
            let _ = ack.send(&ids);
        },
    );
    s.on(
        "poll-voters",
        |s: Socket, _: Value, ack: AckSender| async move {
            let answers = s
                .ns()
                .to("voters")
                .timeout(Duration::from_secs(2))
                .emit_with_ack::<_, String>("vote", &())
                .await
                .unwrap_or_default();
            let votes: Vec<String> = answers.answers().cloned().collect();
            let _ = ack.send(&votes);
        },
    );
    s.on(
        "seen-events",
        |s: Socket, _: Value, ack: AckSender| async move {
            let seen = s.data::<Seen>().unwrap_or_default();
            let list = lock(&seen.events).clone();
            let _ = ack.send(&list);
        },
    );
    s.on(
        "seen-errors",
        |s: Socket, _: Value, ack: AckSender| async move {
            let seen = s.data::<Seen>().unwrap_or_default();
            let list = lock(&seen.errors).clone();
            let _ = ack.send(&list);
        },
    );
    // JavaScript's `...args`: every argument relayed as it came, as an event and as the ack.
    s.on(
        "relay",
        |s: Socket, args: Args, ack: AckSender| async move {
            let _ = s.emit("relayed", &args);
            let _ = ack.send(&args);
        },
    );
    s.on("relay-to-others", |s: Socket, args: Args| async move {
        let _ = s.broadcast().emit("relayed", &args);
    });
    // Asks the client with the same arguments, relays its answer back as `answer-args`.
    s.on("ask-args", |s: Socket, args: Args| async move {
        let r = s
            .emit_with_ack::<_, Args>("question-args", &args, Some(Duration::from_secs(2)))
            .await;
        let _ = match r {
            Ok(answer) => s.emit("answer-args", &answer),
            Err(e) => s.emit("answer-args", &e.to_string()),
        };
    });
    // Typed handlers: extra arguments are ignored, a missing `Option` is `None`.
    s.on(
        "first-string",
        |s: Socket, v: String, ack: AckSender| async move {
            if let Some(seen) = s.data::<Seen>() {
                lock(&seen.ran).push(v.clone());
            }
            let _ = ack.send(&v);
        },
    );
    s.on(
        "add-two",
        |_: Socket, (a, b): (i64, i64), ack: AckSender| async move {
            let _ = ack.send(&(a + b));
        },
    );
    s.on(
        "optional-second",
        |_: Socket, (a, b): (String, Option<i64>), ack: AckSender| async move {
            let _ = ack.send(&(a, b));
        },
    );
    s.on(
        "seen-ran",
        |s: Socket, _: Value, ack: AckSender| async move {
            let seen = s.data::<Seen>().unwrap_or_default();
            let list = lock(&seen.ran).clone();
            let _ = ack.send(&list);
        },
    );
    s.on("tick-me", |s: Socket, n: u32| async move {
        for i in 0..n {
            let _ = s.emit_volatile("tick", &i);
        }
    });
}
