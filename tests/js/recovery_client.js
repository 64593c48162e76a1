// One npm `socket.io-client` socket that reconnects quickly, for the connection state
// recovery tests (tests/src/recovery.rs). The harness cuts its TCP connections with a proxy.
//
// Usage: node recovery_client.js <url> <websocket|polling|upgrade>
//
// Prints one JSON object per line: {"type":"connect","id","recovered"}, {"type":"upgraded"},
// {"type":"disconnect","reason"}, {"type":"event","name","args"} (the arguments as the
// client's handlers get them: with recovery on, the offset is the last one). Ends when stdin
// closes.
"use strict";
const { io } = require("socket.io-client");

const [, , url, mode] = process.argv;
const transports = { websocket: ["websocket"], polling: ["polling"], upgrade: ["polling", "websocket"] }[mode];
if (!url || !transports) {
  console.error("usage: node recovery_client.js <url> <websocket|polling|upgrade>");
  process.exit(2);
}
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const socket = io(url, {
  transports,
  forceNew: true,
  reconnectionDelay: 100,
  reconnectionDelayMax: 100,
  randomizationFactor: 0,
});
socket.on("connect", () => {
  out({ type: "connect", id: socket.id, recovered: socket.recovered });
  const engine = socket.io.engine;
  if (engine.transport.name === "websocket") out({ type: "upgraded" });
  else engine.once("upgrade", () => out({ type: "upgraded" }));
});
socket.on("disconnect", (reason) => out({ type: "disconnect", reason }));
socket.onAny((name, ...args) => out({ type: "event", name, args }));
process.stdin.on("data", () => {});
process.stdin.on("end", () => process.exit(0));
