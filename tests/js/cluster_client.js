// One npm `socket.io-client` socket, driven line by line, for the cluster tests
// (tests/src/cluster.rs, `NpmClient`).
//
// Usage: node cluster_client.js <url with namespace> <websocket|polling|upgrade>
//
// Prints "CONNECTED <id>" once connected (and, with "upgrade", upgraded), then one line per
// event received: "EVENT <JSON [name, ...args]>" (binary arguments as {"$bytes": [..]}).
// Reads commands, one JSON object per line on stdin:
//   {"emit": name, "args": [...], "ack": N}   emits; with "ack", prints "ACK N <JSON answer>"
//                                              (or "ACK N {"$error": message}" after 10 s)
// Ends when stdin closes.
"use strict";
const readline = require("node:readline");
const { io } = require("socket.io-client");

const [, , url, mode] = process.argv;
const transports = { websocket: ["websocket"], polling: ["polling"], upgrade: ["polling", "websocket"] }[mode];
if (!url || !transports) {
  console.error("usage: node cluster_client.js <url> <websocket|polling|upgrade>");
  process.exit(2);
}

const show = (v) =>
  JSON.stringify(v, (k, x) =>
    x && x.type === "Buffer" && Array.isArray(x.data) ? { $bytes: x.data } : x,
  );
const socket = io(url, { transports, forceNew: true, reconnection: false });
socket.onAny((...args) => process.stdout.write(`EVENT ${show(args)}\n`));
socket.on("connect", () => {
  const ready = () => process.stdout.write(`CONNECTED ${socket.id}\n`);
  if (mode === "upgrade" && socket.io.engine.transport.name !== "websocket") {
    socket.io.engine.once("upgrade", ready);
  } else {
    ready();
  }
});
socket.on("connect_error", (e) => {
  console.error(`connect_error: ${e.message}`);
  process.exit(1);
});

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const cmd = JSON.parse(line);
  const args = cmd.args || [];
  if (typeof cmd.ack === "number") {
    socket.timeout(10000).emit(cmd.emit, ...args, (err, answer) => {
      const out = err ? { $error: String(err.message) } : answer;
      process.stdout.write(`ACK ${cmd.ack} ${show(out)}\n`);
    });
  } else {
    socket.emit(cmd.emit, ...args);
  }
}).on("close", () => {
  socket.close();
  process.exit(0);
});
