// Scenarios run by the real npm `socket.io-client` 2.x (Engine.IO v3, Socket.IO protocol v4)
// against our server with `allow_eio3` on.
// Usage: node v2_client.js <base url> <websocket|polling|upgrade> <scenario>
// Exit code 0 and a last line "PASS" when the scenario held; anything else is a failure.
"use strict";
const ioV2 = require("socket.io-client-v2");
const { io: ioV4 } = require("socket.io-client");
const assert = require("node:assert/strict");

const [, , base, mode, scenario] = process.argv;
const transports = {
  websocket: ["websocket"],
  polling: ["polling"],
  upgrade: ["polling", "websocket"],
}[mode];
if (!transports) {
  console.error("unknown mode", mode);
  process.exit(2);
}

const opened = [];
function connect(nsp = "/", opts = {}) {
  const s = ioV2(base + nsp, { transports, forceNew: true, reconnection: false, ...opts });
  opened.push(s);
  return s;
}
function once(emitter, event) {
  return new Promise((resolve) => emitter.once(event, (...args) => resolve(args)));
}
function connected(s) {
  return s.connected ? Promise.resolve() : once(s, "connect");
}
// Emits with an ack (v2 has no ack timeout: the scenario's own deadline bounds it) and
// resolves with all the ack's arguments.
function ack(s, event, ...args) {
  return new Promise((resolve) => s.emit(event, ...args, (...res) => resolve(res)));
}
async function expectTransport(s) {
  const engine = s.io.engine;
  if (mode === "upgrade" && engine.transport.name !== "websocket") await once(engine, "upgrade");
  assert.equal(engine.transport.name, mode === "polling" ? "polling" : "websocket");
}

const scenarios = {
  // The main namespace is joined without asking; the socket id is the Engine.IO id.
  async connect() {
    const s = connect();
    const [w] = await once(s, "welcome");
    await connected(s);
    assert.equal(s.id, s.io.engine.id);
    assert.deepEqual(w, { id: s.id, nsp: "/" });
    const [who] = await ack(s, "whoami", null);
    assert.equal(who.id, s.id);
    await expectTransport(s);
    const [who2] = await ack(s, "whoami", null);
    assert.equal(who2.transport, mode === "polling" ? "polling" : "websocket");
  },

  // Text beyond ASCII: v3 payload lengths count UTF-16 code units.
  async echo_ack() {
    const s = connect();
    await connected(s);
    const value = { text: "héllo wörld 😀 ✓", n: 42, list: [1, "two", null, true] };
    for (let i = 0; i < 3; i++) {
      const res = await ack(s, "echo", value);
      assert.deepEqual(res, [value]);
    }
    await expectTransport(s);
    assert.deepEqual(await ack(s, "echo", value), [value]);
    // A tuple answers with several arguments.
    assert.deepEqual(await ack(s, "sum", [1, 2, 3]), [6, 3]);
  },

  async server_asks_client_for_ack() {
    const s = connect();
    s.on("question", (n, cb) => cb(n * 2));
    await connected(s);
    s.emit("ask-me", 21);
    const [answer] = await once(s, "answer");
    assert.equal(answer, 42);
  },

  // Binary both ways: attachments as v3 binary frames or base64 payload entries.
  async binary_both_ways() {
    const s = connect();
    await connected(s);
    await expectTransport(s);
    const file = {
      name: "ünïcode.bin",
      data: Buffer.from([0, 1, 2, 250, 255]),
      parts: [Buffer.from("part one"), Buffer.alloc(3000, 7)],
    };
    const [back] = await ack(s, "binary-echo", file);
    assert.equal(back.name, file.name);
    assert.ok(Buffer.from(back.data).equals(file.data));
    assert.equal(back.parts.length, 2);
    assert.ok(Buffer.from(back.parts[0]).equals(file.parts[0]));
    assert.ok(Buffer.from(back.parts[1]).equals(file.parts[1]));
    s.emit("send-me-binary");
    const [a, b] = await once(s, "binary");
    assert.ok(Buffer.from(a).equals(Buffer.from([0xde, 0xad])));
    assert.ok(Buffer.from(b.inner).equals(Buffer.from([0xbe, 0xef])));
  },

  // A namespace joined with a query: the query is the socket's auth, the id `nsp#engine id`.
  async namespace_with_query() {
    const root = connect();
    await connected(root);
    const s = root.io.socket("/private", { query: { token: "secret" } });
    const welcome = once(s, "welcome");
    await connected(s);
    assert.equal(s.id, "/private#" + root.io.engine.id);
    const [w] = await welcome;
    assert.deepEqual(w, { id: s.id, nsp: "/private" });
    const [hs] = await ack(s, "handshake", null);
    assert.equal(hs.auth.token, "secret");
    // Both namespaces share the connection.
    assert.deepEqual(await ack(s, "echo", "from private"), ["from private"]);
    assert.deepEqual(await ack(root, "echo", "from root"), ["from root"]);
  },

  // A middleware's refusal reaches the v2 client as an `error` with the error's data.
  async middleware_rejects() {
    const s = connect("/private", { query: { token: "wrong" } });
    const [err] = await once(s, "error");
    assert.deepEqual(err, { code: 401, hint: "send a token" });
    assert.ok(!s.connected);
  },

  async invalid_namespace() {
    const s = connect("/nope");
    const [err] = await once(s, "error");
    assert.deepEqual(err, { message: "Invalid namespace" });
  },

  // The client pings (v3): with a 300 ms interval the server must answer every ping.
  async heartbeat() {
    const s = connect();
    await connected(s);
    let pongs = 0;
    s.on("pong", () => pongs++);
    let disconnected = null;
    s.on("disconnect", (r) => (disconnected = r));
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(disconnected, null);
    assert.ok(pongs >= 3, `only ${pongs} pongs`);
    assert.deepEqual(await ack(s, "echo", 1), [1]);
  },

  async server_disconnect() {
    const s = connect();
    await connected(s);
    await expectTransport(s);
    s.emit("kick-me");
    const [reason] = await once(s, "disconnect");
    assert.equal(reason, "io server disconnect");
  },

  // One broadcast reaches a v2 and a v4 client alike, and each one's emits reach the other.
  async mixed_broadcast() {
    const old = connect();
    const cur = ioV4(base, { transports, forceNew: true, reconnection: false });
    opened.push(cur);
    await connected(old);
    await connected(cur);
    await expectTransport(old);
    const toCur = once(cur, "shouted");
    old.emit("shout", { from: "v2", text: "ça va 😀" });
    assert.deepEqual(await toCur, [{ from: "v2", text: "ça va 😀" }]);
    const toOld = once(old, "shouted");
    cur.emit("shout", { from: "v4" });
    assert.deepEqual(await toOld, [{ from: "v4" }]);
    // A binary broadcast, encoded once for both.
    await ack(old, "join", ["mixed"]);
    await ack(cur, "join", ["mixed"]);
    const a = once(old, "bin");
    const b = once(cur, "bin");
    cur.emit("to-room-binary", "mixed");
    for (const [data] of [await a, await b]) {
      assert.ok(Buffer.from(data).equals(Buffer.from([1, 2, 3, 4])));
    }
  },
};

const run = scenarios[scenario];
if (!run) {
  console.error("unknown scenario", scenario);
  process.exit(2);
}
const deadline = setTimeout(() => {
  console.error(`scenario ${scenario} timed out`);
  process.exit(1);
}, 20000);
run()
  .then(() => {
    clearTimeout(deadline);
    for (const s of opened) s.close();
    console.log("PASS");
    process.exit(0);
  })
  .catch((e) => {
    clearTimeout(deadline);
    console.error(e && e.stack ? e.stack : e);
    process.exit(1);
  });
