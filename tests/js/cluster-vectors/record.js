// Records the bytes that @socket.io/redis-adapter (classic and sharded) and
// @socket.io/redis-emitter publish, as golden vectors for sio-proto's cluster codecs.
//
//   npm ci && node record.js ../../../sio-proto/tests/fixtures/cluster/vectors.json
//
// Starts its own redis-server (>= 7, for sharded pub/sub) on a free loopback port with no
// persistence, runs socket.io servers with the adapters and a few clients, and records
// every message: classic ones through PSUBSCRIBE *, sharded ones through SSUBSCRIBE on the
// channels the sharded adapter uses. Each step is labelled; the output lists, per step,
// the channel and the payload as hex. Everything it starts is stopped at the end.
"use strict";

const { spawn } = require("child_process");
const fs = require("fs");
const http = require("http");
const net = require("net");
const os = require("os");
const path = require("path");
const { Server } = require("socket.io");
const ioc = require("socket.io-client");
const { createClient } = require("redis");
const { createAdapter, createShardedAdapter } = require("@socket.io/redis-adapter");
const { Emitter } = require("@socket.io/redis-emitter");
const { ClusterAdapterWithHeartbeat } = require("socket.io-adapter");
const notepack = require("notepack.io");

const out = process.argv[2];
if (!out) {
  console.error("usage: node record.js OUT.json");
  process.exit(2);
}

let tearingDown = false;
process.on("unhandledRejection", (e) => {
  if (tearingDown) return;
  console.error(e);
  process.exit(1);
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const vectors = [];
let step = null;
let family = null;
function record(channel, message) {
  if (step === null) return;
  vectors.push({
    family,
    step,
    channel: channel.toString(),
    hex: Buffer.from(message).toString("hex"),
  });
}

async function runStep(name, fn, wait = 300) {
  step = name;
  await fn();
  await sleep(wait);
  step = null;
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sio-cluster-vectors-"));
  const redisPort = await freePort();
  const redis = spawn(
    "redis-server",
    ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir],
    { stdio: "ignore" },
  );
  const url = `redis://127.0.0.1:${redisPort}`;
  const clients = [];
  const client = async () => {
    for (let i = 0; i < 50; i++) {
      const c = createClient({ url });
      c.on("error", () => {});
      try {
        await c.connect();
        clients.push(c);
        return c;
      } catch (e) {
        await sleep(100);
      }
    }
    throw new Error("redis-server did not start");
  };
  const servers = [];
  const sockets = [];
  const meta = {};

  try {
    const recorder = await client();

    // ---- classic adapter (PUBLISH / PSUBSCRIBE) ----
    family = "classic";
    await recorder.pSubscribe("*", (msg, channel) => record(channel, msg), true);

    const startServer = async (adapter) => {
      const httpServer = http.createServer();
      const io = new Server(httpServer, { adapter });
      await new Promise((r) => httpServer.listen(0, "127.0.0.1", r));
      servers.push(io);
      return { io, port: httpServer.address().port };
    };
    const connectClient = async (port, nsp = "/") => {
      const s = ioc(`http://127.0.0.1:${port}${nsp}`, { transports: ["websocket"], reconnection: false });
      sockets.push(s);
      s.on("ack-me", (arg, cb) => cb({ got: arg }));
      await new Promise((r) => s.on("connect", r));
      return s;
    };

    const s1 = await startServer(createAdapter(await client(), await client()));
    const s2 = await startServer(
      createAdapter(await client(), await client(), { publishOnSpecificResponseChannel: true }),
    );
    const io1 = s1.io;
    const io2 = s2.io;
    for (const io of [io1, io2]) {
      io.on("connection", (socket) => {
        socket.join("room1");
        socket.data = { name: "user" };
      });
      io.of("/admin");
    }
    io2.on("ping", () => {});
    io2.on("pong", (arg, cb) => cb({ answer: arg }));
    io1.on("pong", (arg, cb) => cb({ answer: arg }));

    await connectClient(s1.port);
    const c2 = await connectClient(s2.port);
    const c3 = await connectClient(s2.port);
    await sleep(200);
    meta.classic = { uid1: io1.of("/").adapter.uid, uid2: io2.of("/").adapter.uid, c2: c2.id, c3: c3.id };

    await runStep("broadcast_all", () => io1.emit("hello", 1, "two", { three: 3, four: [4.5, -6, null, true] }));
    await runStep("broadcast_room", () => io1.to("room1").emit("hello", "room"));
    await runStep("broadcast_rooms_except", () => io1.to(["room1", "room2"]).except("room3").emit("hello"));
    await runStep("broadcast_volatile_compress", () => io1.volatile.compress(false).emit("hello", "v"));
    await runStep("broadcast_binary", () =>
      io1.emit("bin", Buffer.from([1, 2, 3]), { nested: Buffer.from([4]), text: "x" }),
    );
    await runStep("broadcast_namespace", () => io1.of("/admin").to("room1").emit("admin", 1));
    await runStep("broadcast_with_ack", () => io1.timeout(1000).emit("ack-me", "x", () => {}));
    await runStep("all_rooms", () => io1.of("/").adapter.allRooms());
    await runStep("fetch_sockets", () => io1.in("room1").except("room9").fetchSockets());
    await runStep("sockets_join", () => io1.in("room1").socketsJoin(["room4", "room5"]));
    await runStep("sockets_leave", () => io1.in("room4").socketsLeave("room4"));
    await runStep("disconnect_sockets", () => io1.in("nobody").disconnectSockets(true));
    await runStep("server_side_emit", () => io1.serverSideEmit("ping", 1, "a"));
    await runStep("server_side_emit_ack", () => io1.serverSideEmit("pong", "q", () => {}));
    await runStep("server_side_emit_ack_specific", () => io2.serverSideEmit("pong", "r", () => {}));
    // Requests the adapter still answers but no longer sends: published by hand.
    const requestChannel = "socket.io-request#/#";
    await runStep("legacy_sockets", () =>
      recorder.duplicate().connect().then(async (c) => {
        clients.push(c);
        await c.publish(requestChannel, JSON.stringify({ uid: "recorder", requestId: "req-sockets", type: 0, rooms: ["room1"] }));
      }),
    );
    const pub = clients[clients.length - 1];
    await runStep("legacy_remote_join", () =>
      pub.publish(requestChannel, JSON.stringify({ uid: "recorder", requestId: "req-join", type: 2, sid: c2.id, room: "room6" })),
    );
    await runStep("legacy_remote_leave", () =>
      pub.publish(requestChannel, JSON.stringify({ uid: "recorder", requestId: "req-leave", type: 3, sid: c2.id, room: "room6" })),
    );
    await runStep("legacy_remote_disconnect", () =>
      pub.publish(requestChannel, JSON.stringify({ uid: "recorder", requestId: "req-disconnect", type: 4, sid: c3.id, close: false })),
    );

    const emitter = new Emitter(pub);
    await runStep("emitter_broadcast", () => emitter.emit("from-emitter", 1, "a"));
    await runStep("emitter_room", () => emitter.to("room1").emit("from-emitter", 2));
    await runStep("emitter_rooms_except_flags", () =>
      emitter.to("room1").to("room2").except("room3").volatile.compress(true).emit("from-emitter", 3),
    );
    await runStep("emitter_binary", () => emitter.emit("from-emitter", Buffer.from([9, 8])));
    await runStep("emitter_namespace", () => emitter.of("/admin").emit("from-emitter", 4));
    await runStep("emitter_sockets_join", () => emitter.in("room1").socketsJoin("room7"));
    await runStep("emitter_sockets_leave", () => emitter.in("room1").socketsLeave(["room7"]));
    await runStep("emitter_disconnect_sockets", () => emitter.in("nobody").disconnectSockets());
    await runStep("emitter_server_side_emit", () => emitter.serverSideEmit("ping", { from: "emitter" }));

    for (const s of sockets.splice(0)) s.disconnect();
    for (const io of servers.splice(0)) await new Promise((r) => io.close(() => r()));
    await sleep(200);

    // ---- sharded adapter (SPUBLISH / SSUBSCRIBE), dynamic subscription mode ----
    family = "sharded";
    const s3 = await startServer(createShardedAdapter(await client(), await client()));
    const s4 = await startServer(createShardedAdapter(await client(), await client()));
    const io3 = s3.io;
    const io4 = s4.io;
    for (const io of [io3, io4]) {
      io.on("connection", (socket) => {
        socket.join("room1");
        socket.data = { name: "user" };
      });
      io.on("pong", (arg, cb) => cb({ answer: arg }));
      io.on("ping", () => {});
    }
    await connectClient(s3.port);
    const c4 = await connectClient(s4.port);
    await sleep(200);
    const uid3 = io3.of("/").adapter.uid;
    const uid4 = io4.of("/").adapter.uid;
    meta.sharded = { uid3, uid4, c4: c4.id };
    const handler = (msg, channel) => record(channel, msg);
    for (const ch of ["socket.io#/#", `socket.io#/#${uid3}#`, `socket.io#/#${uid4}#`, "socket.io#/#room1#", `socket.io#/#${c4.id}#`]) {
      await recorder.duplicate().connect().then((c) => {
        clients.push(c);
        return c.sSubscribe(ch, handler, true);
      });
    }
    // The recorder's subscription to the main channel counts in SHARDNUMSUB: requests
    // that wait for every server then time out, which the steps below ignore.
    await runStep("broadcast_all", () => io3.emit("hello", 1, "two", { three: 3 }));
    await runStep("broadcast_room", () => io3.to("room1").emit("hello", "room"));
    await runStep("broadcast_socket_room", () => io3.to(c4.id).emit("hello", "private"));
    await runStep("broadcast_rooms_except_flags", () =>
      io3.to(["room1", "room2"]).except("room3").volatile.compress(false).emit("hello"),
    );
    await runStep("broadcast_binary", () => io3.emit("bin", Buffer.from([1, 2, 3])));
    await runStep("broadcast_with_ack", () => io3.timeout(1000).emit("ack-me", "x", () => {}));
    await runStep("sockets_join", () => io3.in("room1").socketsJoin("room4"));
    await runStep("sockets_leave", () => io3.in("room4").socketsLeave(["room4"]));
    await runStep("disconnect_sockets", () => io3.in("nobody").disconnectSockets(true));
    await runStep("fetch_sockets", () => io3.timeout(300).in("room1").fetchSockets().catch(() => {}));
    await runStep("server_side_emit", () => io3.serverSideEmit("ping", 1, "a"));
    await runStep("server_side_emit_ack", () => io3.serverSideEmit("pong", "q", () => {}));
    await runStep("server_side_emit_binary", () => io3.serverSideEmit("ping", Buffer.from([7])));

    // ---- ClusterAdapterWithHeartbeat: the heartbeat messages (1, 2, 13), which the sharded
    // adapter never sends. Its messages are carried over sharded pub/sub with the sharded
    // adapter's own encoder (JSON, or MessagePack with binary), on "socket.io-hb#/#".
    family = "heartbeat";
    const shardedEncode = io3.of("/").adapter.encode;
    const heartbeatAdapter = (pub, sub) =>
      function (nsp) {
      class HeartbeatAdapter extends ClusterAdapterWithHeartbeat {
        constructor(n) {
          super(n, { heartbeatInterval: 60000, heartbeatTimeout: 120000 });
          this.channel = `socket.io-hb#${n.name}#`;
          const parse = (m) => (m[0] === 0x7b ? JSON.parse(m.toString()) : notepack.decode(m));
          this.ready = Promise.all([
            sub.sSubscribe(this.channel, (m) => this.onMessage(parse(m)), true),
            sub.sSubscribe(`${this.channel}${this.uid}#`, (m) => this.onResponse(parse(m)), true),
          ]);
        }
        doPublish(message) {
          return pub.sPublish(this.channel, shardedEncode(message)).then(() => "");
        }
        doPublishResponse(uid, response) {
          return pub.sPublish(`${this.channel}${uid}#`, shardedEncode(response)).then(() => {});
        }
      }
      return new HeartbeatAdapter(nsp);
      };
    await recorder.duplicate().connect().then((c) => {
      clients.push(c);
      return c.sSubscribe("socket.io-hb#/#", handler, true);
    });
    const s5 = await startServer(heartbeatAdapter(await client(), await client()));
    await s5.io.of("/").adapter.ready;
    const s6 = await startServer(heartbeatAdapter(await client(), await client()));
    await s6.io.of("/").adapter.ready;
    meta.heartbeat = { uid5: s5.io.of("/").adapter.uid, uid6: s6.io.of("/").adapter.uid };
    await runStep("initial_heartbeat", () => s6.io.of("/").adapter.init());
    await runStep("adapter_close", () => s6.io.of("/").adapter.close());
  } finally {
    step = null;
    // Publishes still queued on a client fail as it disconnects: expected now.
    tearingDown = true;
    for (const s of sockets) s.disconnect();
    for (const io of servers) await new Promise((r) => io.close(() => r()));
    for (const c of clients) {
      try {
        await c.disconnect();
      } catch (e) {
        // already closed by its adapter
      }
    }
    redis.kill("SIGTERM");
    await new Promise((r) => redis.once("exit", r));
    fs.rmSync(dir, { recursive: true, force: true });
  }

  const pkg = (name) =>
    JSON.parse(fs.readFileSync(path.join(__dirname, "node_modules", name, "package.json"), "utf8")).version;
  const versions = {
    "socket.io": pkg("socket.io"),
    "socket.io-adapter": pkg("socket.io-adapter"),
    "@socket.io/redis-adapter": pkg("@socket.io/redis-adapter"),
    "@socket.io/redis-emitter": pkg("@socket.io/redis-emitter"),
    "notepack.io": pkg("notepack.io"),
  };
  fs.writeFileSync(out, JSON.stringify({ versions, meta, vectors }, null, 1) + "\n");
  console.log(`recorded ${vectors.length} messages to ${out}`);
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
