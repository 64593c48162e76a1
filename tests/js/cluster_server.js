// A node of a Socket.IO cluster: the real npm `socket.io` server with `@socket.io/redis-adapter`
// (8.x, on the `redis` 4.x client), for the cluster tests (tests/src/cluster.rs).
//
// Usage: node cluster_server.js --redis redis://127.0.0.1:PORT [--port N]
//          [--adapter classic|sharded] [--key PREFIX] [--specific-response-channel]
//          [--subscription-mode static|dynamic|dynamic-private] [--requests-timeout MS]
//
//   --port                       0 or absent: a free one. Printed as "PORT <n>" once the server
//                                listens AND its adapter is subscribed (so that a test may
//                                broadcast at once).
//   --adapter classic            createAdapter (PUBLISH / PSUBSCRIBE); --specific-response-channel
//                                sets its publishOnSpecificResponseChannel option; --key its key
//                                prefix; --requests-timeout its requestsTimeout.
//   --adapter sharded            createShardedAdapter (SPUBLISH / SSUBSCRIBE, Redis 7);
//                                --subscription-mode its subscriptionMode, --key its channelPrefix.
//
// Namespace "/": what the test clients use. Events (each acked):
//   ("join", room, ack)      joins the room; acked once the adapter can receive for it
//   ("leave", room, ack)     leaves it
//   ("setData", obj, ack)    socket.data = obj
//   ("whoami", ack)          {id, port, transport, rooms}
//   ("echo", v, ack)         acks v
// Namespace "/control": the test drives the server. ("do", {op, ...}, ack) performs an operation
// on namespace "/" of the cluster and acks its result, {error} when it threw:
//   broadcast        {event, args, rooms?, except?}              -> {ok: true}
//   fetchSockets     {rooms?}                                    -> [{id, rooms, data}]
//   socketsJoin      {rooms, targetRooms?}                       -> {ok: true}
//   socketsLeave     {rooms, targetRooms?}                       -> {ok: true}
//   disconnectSockets {close, targetRooms?}                      -> {ok: true}
//   serverSideEmit   {event, args, withAck, timeout}             -> {ok} or {err, responses}
//   broadcastWithAck {event, args, timeout, rooms?}              -> {err, responses}
//   serverCount                                                  -> n
// serverSideEmit's `timeout` bounds the wait here; the adapter's own deadline is its
// requestsTimeout (classic) or 5 s (sharded, fixed by socket.io-adapter).
// Server-side listeners: ("ping-server", arg, cb) answers cb("pong from node <port>");
// ("server-news", arg) emits "news" with arg to this server's own clients of "/".
"use strict";
const http = require("node:http");
const { Server } = require("socket.io");
const { createClient } = require("redis");
const { createAdapter, createShardedAdapter } = require("@socket.io/redis-adapter");

function parseArgs(argv) {
  const o = {
    port: 0,
    redis: null,
    adapter: "classic",
    key: "socket.io",
    specificResponseChannel: false,
    subscriptionMode: "dynamic",
    requestsTimeout: 5000,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) fail(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case "--port":
        o.port = Number(value());
        break;
      case "--redis":
        o.redis = value();
        break;
      case "--adapter":
        o.adapter = value();
        break;
      case "--key":
        o.key = value();
        break;
      case "--specific-response-channel":
        o.specificResponseChannel = true;
        break;
      case "--subscription-mode":
        o.subscriptionMode = value();
        break;
      case "--requests-timeout":
        o.requestsTimeout = Number(value());
        break;
      default:
        fail(`unknown argument ${a}`);
    }
  }
  if (!o.redis) fail("--redis URL is required");
  if (!["classic", "sharded"].includes(o.adapter)) fail(`unknown adapter ${o.adapter}`);
  if (!["static", "dynamic", "dynamic-private"].includes(o.subscriptionMode)) {
    fail(`unknown subscription mode ${o.subscriptionMode}`);
  }
  return o;
}

function fail(msg) {
  console.error(`cluster_server.js: ${msg}`);
  process.exit(2);
}

const opts = parseArgs(process.argv.slice(2));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  // The npm client reconnects by itself (default strategy: a growing delay up to 500 ms).
  // Errors are reported, never thrown: an "error" event without a listener would end the process.
  const redisOptions = {
    url: opts.redis,
    socket: { reconnectStrategy: (retries) => Math.min(50 * (retries + 1), 300) },
  };
  const pubClient = createClient(redisOptions);
  const subClient = pubClient.duplicate();
  for (const [name, c] of [
    ["pub", pubClient],
    ["sub", subClient],
  ]) {
    c.on("error", (e) => console.error(`redis ${name} client: ${e.message}`));
  }
  await Promise.all([pubClient.connect(), subClient.connect()]);

  const adapter =
    opts.adapter === "classic"
      ? createAdapter(pubClient, subClient, {
          key: opts.key,
          publishOnSpecificResponseChannel: opts.specificResponseChannel,
          requestsTimeout: opts.requestsTimeout,
        })
      : createShardedAdapter(pubClient, subClient, {
          channelPrefix: opts.key,
          subscriptionMode: opts.subscriptionMode,
        });

  const httpServer = http.createServer();
  const io = new Server(httpServer, { adapter, pingInterval: 1000, pingTimeout: 3000 });
  let port = 0;
  const main = io.of("/");
  const control = io.of("/control");

  // Resolves once every (P|S)SUBSCRIBE sent so far on the subscriber connection is done: the
  // connection answers in order, so a subscription made now completes after them.
  let barrierId = 0;
  async function subscriptionsDone() {
    const channel = `${opts.key}#barrier#${process.pid}#${barrierId++}`;
    if (opts.adapter === "sharded") {
      await subClient.sSubscribe(channel, () => {});
      await subClient.sUnsubscribe(channel);
    } else {
      await subClient.subscribe(channel, () => {});
      await subClient.unsubscribe(channel);
    }
  }

  main.on("connection", (socket) => {
    const on = (event, fn) =>
      socket.on(event, async (...args) => {
        const ack = typeof args[args.length - 1] === "function" ? args.pop() : () => {};
        try {
          ack(await fn(...args));
        } catch (e) {
          ack({ error: String(e && e.message ? e.message : e) });
        }
      });
    on("join", async (room) => {
      socket.join(room);
      // The sharded adapter subscribes to a room's channel when the room is created here.
      await subscriptionsDone();
      return { ok: true };
    });
    on("leave", async (room) => {
      socket.leave(room);
      return { ok: true };
    });
    on("setData", async (data) => {
      socket.data = data;
      return { ok: true };
    });
    on("whoami", async () => ({
      id: socket.id,
      port,
      transport: socket.conn.transport.name,
      rooms: [...socket.rooms],
    }));
    on("echo", async (v) => v);
  });

  // Server-side emits from the other nodes.
  io.on("ping-server", (arg, cb) => {
    if (typeof cb === "function") cb(`pong from node ${port}`);
  });
  io.on("server-news", (arg) => {
    io.local.emit("news", arg);
  });

  const target = (rooms) => (rooms && rooms.length ? main.in(rooms) : main);
  const ops = {
    async broadcast({ event, args = [], rooms, except }) {
      let op = target(rooms);
      if (except && except.length) op = op.except(except);
      op.emit(event, ...args);
      return { ok: true };
    },
    async fetchSockets({ rooms }) {
      const sockets = await target(rooms).fetchSockets();
      return sockets.map((s) => ({ id: s.id, rooms: [...s.rooms], data: s.data }));
    },
    async socketsJoin({ rooms, targetRooms }) {
      target(targetRooms).socketsJoin(rooms);
      return { ok: true };
    },
    async socketsLeave({ rooms, targetRooms }) {
      target(targetRooms).socketsLeave(rooms);
      return { ok: true };
    },
    async disconnectSockets({ close = false, targetRooms }) {
      target(targetRooms).disconnectSockets(close);
      return { ok: true };
    },
    async serverSideEmit({ event, args = [], withAck = false, timeout = 5000 }) {
      if (!withAck) {
        main.serverSideEmit(event, ...args);
        return { ok: true };
      }
      return new Promise((resolve) => {
        const guard = setTimeout(() => resolve({ err: "timeout", responses: [] }), timeout);
        main.serverSideEmit(event, ...args, (err, responses) => {
          clearTimeout(guard);
          resolve({ err: err ? String(err.message) : null, responses: responses ?? [] });
        });
      });
    },
    async broadcastWithAck({ event, args = [], timeout = 5000, rooms }) {
      return new Promise((resolve) => {
        target(rooms)
          .timeout(timeout)
          .emit(event, ...args, (err, responses) =>
            resolve({ err: err ? String(err.message) : null, responses: responses ?? [] }),
          );
      });
    },
    async serverCount() {
      return main.adapter.serverCount();
    },
  };

  control.on("connection", (socket) => {
    socket.on("do", async (req, ack) => {
      if (typeof ack !== "function") return;
      const fn = req && ops[req.op];
      if (!fn) return ack({ error: `unknown op ${req && req.op}` });
      try {
        ack(await fn(req));
      } catch (e) {
        ack({ error: String(e && e.message ? e.message : e) });
      }
    });
  });

  await new Promise((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(opts.port, "127.0.0.1", resolve);
  });
  port = httpServer.address().port;
  // Both namespaces' adapters subscribed before the port is announced.
  await subscriptionsDone();
  for (let i = 0; (await main.adapter.serverCount()) < 1; i++) {
    if (i > 500) fail("the adapter never subscribed");
    await sleep(10);
  }
  console.log(`PORT ${port}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
