// The Node baseline of the load measurement (benches/load.sh, benches/src/bin/sio_load.rs):
// the npm `socket.io` server with default options and the same events as
// benches/src/bin/bench_server.rs.
//   - "echo" with an ack: the ack carries the payload back;
//   - "broadcast": the payload goes to every socket of the main namespace, the sender
//     included, as the event "bcast".
// With TICK_HZ set (> 0), a server-side timer also broadcasts "bcast" to everyone that many
// times a second, its payload {"t": <microseconds since the Unix epoch>}.
// With REDIS_URL set, the server is a member of a cluster on that Redis (@socket.io/redis-adapter,
// createAdapter): a broadcast also goes to the clients of the other servers.
// Usage: PORT=0 node bench_server.js   (PORT unset or 0: a free port). Prints "PID <pid>" and
// "PORT <n>" once listening on 127.0.0.1, and serves until killed.
"use strict";
const { createServer } = require("node:http");
const { Server } = require("socket.io");

const httpServer = createServer();
const io = new Server(httpServer);

async function joinCluster(url) {
  const { createClient } = require("redis");
  const { createAdapter } = require("@socket.io/redis-adapter");
  const pub = createClient({ url });
  const sub = pub.duplicate();
  for (const c of [pub, sub]) c.on("error", (e) => console.error(`redis: ${e.message}`));
  await Promise.all([pub.connect(), sub.connect()]);
  io.adapter(createAdapter(pub, sub));
  // Subscribed once the server counts itself.
  while ((await io.of("/").adapter.serverCount()) < 1) {
    await new Promise((r) => setTimeout(r, 10));
  }
}

io.on("connection", (socket) => {
  socket.on("echo", (payload, ack) => {
    if (typeof ack === "function") ack(payload);
  });
  socket.on("broadcast", (payload) => {
    io.emit("bcast", payload);
  });
});

const hz = Number(process.env.TICK_HZ || 0);
if (hz > 0) {
  setInterval(() => {
    const t = Math.round((performance.timeOrigin + performance.now()) * 1000);
    io.emit("bcast", { t });
  }, 1000 / hz);
}

// With node --expose-gc and GC_MS set, a full collection runs that often: the idle-memory
// measurement then sees the live heap rather than garbage not yet collected.
if (typeof global.gc === "function" && Number(process.env.GC_MS) > 0) {
  setInterval(() => global.gc(), Number(process.env.GC_MS)).unref();
}

(process.env.REDIS_URL ? joinCluster(process.env.REDIS_URL) : Promise.resolve()).then(
  () =>
    httpServer.listen(Number(process.env.PORT || 0), "127.0.0.1", () => {
      process.stdout.write(`PID ${process.pid}\nPORT ${httpServer.address().port}\n`);
    }),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
