// The real npm `socket.io` server our Rust client is tested against.
// Usage: node node_server.js [port] [--tls] [--msgpack] [--deflate]   (port 0 or none: a free one)
// With --msgpack it speaks socket.io-msgpack-parser; with --deflate its websockets take
// permessage-deflate (threshold 1 KiB).
// Listens on 127.0.0.1 and prints "PORT <n>" once listening. With --tls it serves HTTPS with
// the test certificate in tls/ (issued for localhost and 127.0.0.1 by the test CA tls/ca.der;
// the CA's key was thrown away). The events mirror the Rust
// scenario application (tests/src/app.rs), plus a few that only this server has (conn-id,
// flaky, never-acks). To test reconnection the harness kills this process and starts it again
// on the same port: listening is retried while the port is still taken.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { Server } = require("socket.io");

const args = process.argv.slice(2);
const tls = args.includes("--tls");
const wanted = Number(args.find((a) => /^\d+$/.test(a)) ?? 0);
const httpServer = tls
  ? require("node:https").createServer({
      key: fs.readFileSync(path.join(__dirname, "tls", "server.key")),
      cert: fs.readFileSync(path.join(__dirname, "tls", "server.pem")),
    })
  : require("node:http").createServer();
const io = new Server(httpServer, {
  pingInterval: 1000,
  pingTimeout: 3000,
  connectTimeout: 10000,
  maxHttpBufferSize: 1e7,
  ...(args.includes("--msgpack") ? { parser: require("socket.io-msgpack-parser") } : {}),
  ...(args.includes("--deflate") ? { perMessageDeflate: { threshold: 1024 } } : {}),
});

const flakyTries = new Map();

function install(nsp) {
  nsp.on("connection", (socket) => {
    // Handlers take the arguments as an array and an ack function (a no-op when the client
    // asked for none), whatever number of arguments the client sent.
    const on = (event, fn) =>
      socket.on(event, (...args) => {
        const ack = typeof args[args.length - 1] === "function" ? args.pop() : () => {};
        return fn(args, ack);
      });
    const seen = [];
    socket.onAny((event) => seen.push(event));
    socket.emit("welcome", { id: socket.id, nsp: nsp.name, connId: socket.conn.id });

    on("whoami", (_, ack) =>
      ack({ id: socket.id, transport: socket.conn.transport.name, connId: socket.conn.id }),
    );
    on("handshake", (_, ack) =>
      ack({
        query: socket.handshake.query.room ?? null,
        auth: socket.handshake.auth,
        address: socket.handshake.address,
        header: socket.handshake.headers["x-sio-test"] ?? null,
      }),
    );
    on("conn-id", (_, ack) => ack(socket.conn.id));
    // The extensions the websocket agreed ("" for none; null over polling).
    on("ws-extensions", (_, ack) => {
      const ws = socket.conn.transport.socket;
      ack(ws && typeof ws.extensions === "string" ? ws.extensions : null);
    });
    on("echo", ([v], ack) => ack(v));
    on("sum", ([v], ack) => ack(v.reduce((a, b) => a + b, 0), v.length));
    on("ask-me", async ([n]) => {
      try {
        const r = await socket.timeout(500).emitWithAck("question", n);
        socket.emit("answer", r);
      } catch {
        socket.emit("answer", "timeout");
      }
    });
    // The server asks with binary and checks that the client answers with binary.
    on("ask-binary", async () => {
      try {
        const r = await socket.timeout(2000).emitWithAck("bin-question", Buffer.from([1, 2, 3]));
        socket.emit("bin-answer", {
          isBuffer: Buffer.isBuffer(r.data),
          bytes: [...r.data],
          label: r.label,
        });
      } catch (e) {
        socket.emit("bin-answer", { error: String(e) });
      }
    });
    on("binary-echo", ([f], ack) => ack(f));
    on("binary-check", ([f], ack) =>
      ack({
        data: Buffer.isBuffer(f.data) ? [...f.data] : null,
        parts: f.parts.map((p) => (Buffer.isBuffer(p) ? p.length : -1)),
        nested: Buffer.isBuffer(f.nested?.deep?.bin) ? [...f.nested.deep.bin] : null,
      }),
    );
    on("send-me-binary", () =>
      socket.emit("binary", Buffer.from([0xde, 0xad]), { inner: Buffer.from([0xbe, 0xef]) }),
    );
    on("seq-echo", ([i]) => socket.emit("seq", i));
    on("message", ([text, n]) => socket.send(`${text} back`, n));
    on("kick-me", () => socket.disconnect());
    on("close-my-transport", () => socket.conn.close());
    on("seen-events", (_, ack) => ack(seen));
    // Acked only from the second try on: checks the client's retries.
    on("flaky", ([key], ack) => {
      const n = (flakyTries.get(key) ?? 0) + 1;
      flakyTries.set(key, n);
      if (n >= 2) ack(n);
    });
    on("never-acks", () => {});
    // Every argument relayed as it came, as an event and as the ack.
    on("relay", (args, ack) => {
      socket.emit("relayed", ...args);
      ack(...args);
    });
    // Asks the client with the same arguments and relays its answer back.
    on("ask-args", (args) =>
      socket
        .timeout(2000)
        .emit("question-args", ...args, (err, ...res) =>
          socket.emit("answer-args", ...(err ? [String(err)] : res)),
        ),
    );
  });
}

for (const name of ["/", "/chat", "/news", "/private"]) install(io.of(name));

io.of("/private").use((socket, next) => {
  if (socket.handshake.auth && socket.handshake.auth.token === "secret") return next();
  const err = new Error("Not authorized");
  err.data = { code: 401, hint: "send a token" };
  next(err);
});

let tries = 0;
function listen() {
  httpServer.once("error", (e) => {
    if (e.code === "EADDRINUSE" && tries++ < 200) {
      setTimeout(listen, 25);
    } else {
      console.error(e);
      process.exit(1);
    }
  });
  httpServer.listen(wanted, "127.0.0.1", () => {
    console.log(`PORT ${httpServer.address().port}`);
  });
}
listen();
