// The npm socket.io-client against our server with websocket compression on.
// Usage: node deflate_client.js <base url> <websocket|upgrade>
// The client offers permessage-deflate (Node's default, threshold 1 KiB): large messages go
// compressed both ways. Exit code 0 and a last line "PASS" when everything held.
"use strict";
const { io } = require("socket.io-client");
const assert = require("node:assert/strict");

const [, , base, mode] = process.argv;
const transports = mode === "upgrade" ? ["polling", "websocket"] : ["websocket"];

function once(emitter, event) {
  return new Promise((resolve) => emitter.once(event, (...args) => resolve(args)));
}
function ack(s, event, ...args) {
  return new Promise((resolve, reject) =>
    s.timeout(10000).emit(event, ...args, (err, ...res) => (err ? reject(err) : resolve(res))),
  );
}

async function main() {
  const s = io(base, { transports, forceNew: true, reconnection: false });
  await once(s, "connect");
  const engine = s.io.engine;
  if (engine.transport.name !== "websocket") await once(engine, "upgrade");
  // What the websocket agreed, as the `ws` package saw the server's answer.
  const extensions = engine.transport.ws.extensions;
  assert.match(extensions, /permessage-deflate/);
  const big = "compress me ".repeat(5000);
  const value = { big, nested: { list: [1, 2, 3], text: "é😀" } };
  for (let i = 0; i < 3; i++) assert.deepEqual(await ack(s, "echo", value), [value]);
  assert.deepEqual(await ack(s, "echo", "small"), ["small"]);
  const file = {
    name: "n".repeat(2000),
    data: Buffer.alloc(100000, 3),
    parts: [Buffer.from("tiny")],
  };
  const [back] = await ack(s, "binary-echo", file);
  assert.equal(back.name, file.name);
  assert.ok(Buffer.from(back.data).equals(file.data));
  assert.ok(Buffer.from(back.parts[0]).equals(file.parts[0]));
  // A broadcast of a large message reaches a second compressed client intact.
  const t = io(base, { transports, forceNew: true, reconnection: false });
  await once(t, "connect");
  const got = once(t, "shouted");
  s.emit("shout", value);
  assert.deepEqual(await got, [value]);
  s.close();
  t.close();
}

const deadline = setTimeout(() => {
  console.error("timed out");
  process.exit(1);
}, 25000);
main()
  .then(() => {
    clearTimeout(deadline);
    console.log("PASS");
    process.exit(0);
  })
  .catch((e) => {
    clearTimeout(deadline);
    console.error(e && e.stack ? e.stack : e);
    process.exit(1);
  });
