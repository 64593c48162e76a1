// Publishes with the real npm `@socket.io/redis-emitter` (5.x, on the `redis` 4.x client), for
// the cluster tests: the emitter is not a server, it only publishes in the classic adapter's
// format (uid "emitter") for the servers of a cluster to act on.
//
// Usage: node emitter.js --redis redis://127.0.0.1:PORT --ops JSON
//
// JSON is an array of operations, done in order on namespace `nsp` (default "/"):
//   {op: "emit", event, args?, rooms?, except?, volatile?, binary?}
//        binary: an argument index whose value (an array of byte values) is sent as a Buffer
//   {op: "socketsJoin" | "socketsLeave", rooms, targetRooms?}
//   {op: "disconnectSockets", close?, targetRooms?}
//   {op: "serverSideEmit", event, args?}
// Exits 0 once every message is published (the connection is closed after the last one).
"use strict";
const { createClient } = require("redis");
const { Emitter } = require("@socket.io/redis-emitter");

function fail(msg) {
  console.error(`emitter.js: ${msg}`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = { redis: null, ops: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) fail(`${a} needs a value`);
      return argv[++i];
    };
    if (a === "--redis") o.redis = value();
    else if (a === "--ops") o.ops = JSON.parse(value());
    else fail(`unknown argument ${a}`);
  }
  if (!o.redis || !Array.isArray(o.ops)) fail("--redis URL and --ops JSON are required");
  return o;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const client = createClient({ url: opts.redis });
  client.on("error", (e) => console.error(`redis client: ${e.message}`));
  await client.connect();
  const root = new Emitter(client);
  for (const o of opts.ops) {
    const emitter = o.nsp && o.nsp !== "/" ? root.of(o.nsp) : root;
    const target = (rooms) => (rooms && rooms.length ? emitter.to(rooms) : emitter);
    switch (o.op) {
      case "emit": {
        let op = target(o.rooms);
        if (o.except && o.except.length) op = op.except(o.except);
        if (o.volatile) op = op.volatile;
        const args = (o.args || []).slice();
        if (typeof o.binary === "number") args[o.binary] = Buffer.from(args[o.binary]);
        op.emit(o.event, ...args);
        break;
      }
      case "socketsJoin":
        target(o.targetRooms).socketsJoin(o.rooms);
        break;
      case "socketsLeave":
        target(o.targetRooms).socketsLeave(o.rooms);
        break;
      case "disconnectSockets":
        target(o.targetRooms).disconnectSockets(!!o.close);
        break;
      case "serverSideEmit":
        emitter.serverSideEmit(o.event, ...(o.args || []));
        break;
      default:
        fail(`unknown op ${o.op}`);
    }
  }
  // QUIT is answered after every command sent before it: everything is published.
  await client.quit();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
