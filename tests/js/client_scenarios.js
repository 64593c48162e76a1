// Scenarios run by the real npm `socket.io-client` against our server.
// Usage: node client_scenarios.js <base url> <websocket|polling|upgrade> <scenario> [msgpack]
// With "msgpack" every socket uses socket.io-msgpack-parser (the server must too).
// Exit code 0 and a last line "PASS" when the scenario held; anything else is a failure.
"use strict";
const { io } = require("socket.io-client");
const assert = require("node:assert/strict");

const [, , base, mode, scenario, parserName] = process.argv;
const parser = parserName === "msgpack" ? { parser: require("socket.io-msgpack-parser") } : {};
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
  const s = io(base + nsp, { transports, forceNew: true, reconnection: false, ...parser, ...opts });
  opened.push(s);
  return s;
}
function once(emitter, event) {
  return new Promise((resolve) => emitter.once(event, (...args) => resolve(args)));
}
function connected(s) {
  return s.connected ? Promise.resolve() : once(s, "connect");
}
// Emits with an ack and resolves with all the ack's arguments as an array.
function ack(s, event, ...args) {
  return new Promise((resolve, reject) =>
    s.timeout(5000).emit(event, ...args, (err, ...res) => (err ? reject(err) : resolve(res))),
  );
}
async function expectUpgraded(s) {
  if (mode !== "upgrade") return;
  const engine = s.io.engine;
  if (engine.transport.name !== "websocket") await once(engine, "upgrade");
  assert.equal(engine.transport.name, "websocket");
}
function nothingWithin(s, event, ms) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    s.once(event, (...a) => {
      clearTimeout(t);
      reject(new Error(`unexpected ${event}: ${JSON.stringify(a)}`));
    });
  });
}

// Records the text of every Socket.IO packet the socket's connection sends and receives.
function recordPackets(s) {
  const sent = [];
  const received = [];
  const engine = () => s.io.engine;
  const hook = () => {
    engine().on("packetCreate", (p) => p.type === "message" && sent.push(p.data));
    engine().on("packet", (p) => p.type === "message" && received.push(p.data));
  };
  if (s.io.engine) hook();
  else s.io.once("open", hook);
  return { sent, received };
}
// The JSON text after `head` in the first string packet that contains it.
function textAfter(packets, head) {
  const p = packets.find((d) => typeof d === "string" && d.includes(head));
  assert.ok(p !== undefined, `no packet with ${head}: ${JSON.stringify(packets)}`);
  return p.slice(p.indexOf(head) + head.length);
}

const scenarios = {
  async connect() {
    const s = connect();
    const [w] = await once(s, "welcome");
    assert.ok(s.connected);
    assert.equal(w.id, s.id);
    assert.equal(w.nsp, "/");
    await expectUpgraded(s);
    const [w2] = await ack(s, "whoami");
    assert.equal(w2.id, s.id);
    assert.equal(w2.transport, mode === "polling" ? "polling" : "websocket");
  },

  async handshake_details() {
    const s = connect("/", { query: { room: "blue" }, auth: { token: "abc" } });
    await connected(s);
    const [h] = await ack(s, "handshake");
    assert.equal(h.query, "blue");
    assert.deepEqual(h.auth, { token: "abc" });
    assert.match(h.address, /^127\.0\.0\.1:/);
  },

  async echo_ack() {
    const s = connect();
    await connected(s);
    const payload = { a: 1, b: "x", nested: { list: [1, 2, { c: null }], t: true }, u: "é€😀\"\\\n" };
    const [back] = await ack(s, "echo", payload);
    assert.deepEqual(back, payload);
  },

  async multiple_arguments() {
    const s = connect();
    await connected(s);
    const [sum, count] = await ack(s, "sum", 1, 2, 3);
    assert.equal(sum, 6);
    assert.equal(count, 3);
  },

  async server_asks_client_for_ack() {
    const s = connect();
    s.on("question", (n, cb) => cb(n * 2));
    await connected(s);
    s.emit("ask-me", 21);
    const [answer] = await once(s, "answer");
    assert.equal(answer, 42);
  },

  async server_ack_callback() {
    const s = connect();
    s.on("question", (n, cb) => cb(n + 1));
    await connected(s);
    s.emit("ask-me-cb", 41);
    const [answer] = await once(s, "answer");
    assert.equal(answer, 42);
    const [outgoing] = await ack(s, "outgoing-seen");
    assert.deepEqual(outgoing, ["question", "answer"]);
  },

  async server_ack_timeout() {
    const s = connect();
    s.on("question", () => {}); // never answers
    await connected(s);
    s.emit("ask-me", 1);
    const [answer] = await once(s, "answer");
    assert.equal(answer, "timeout");
  },

  async binary_both_ways() {
    const s = connect();
    await connected(s);
    const file = {
      name: "f.bin",
      data: Buffer.from([1, 2, 3, 255]),
      parts: [Buffer.from([4]), Buffer.alloc(0), Buffer.alloc(70000, 7)],
    };
    const [back] = await ack(s, "binary-echo", file);
    assert.equal(back.name, "f.bin");
    assert.ok(Buffer.isBuffer(back.data));
    assert.deepEqual([...back.data], [1, 2, 3, 255]);
    assert.equal(back.parts.length, 3);
    assert.deepEqual(back.parts.map((b) => b.length), [1, 0, 70000]);
    assert.equal(back.parts[2][69999], 7);
    s.emit("send-me-binary");
    const [a, b] = await once(s, "binary");
    assert.deepEqual([...a], [0xde, 0xad]);
    assert.deepEqual([...b.inner], [0xbe, 0xef]);
  },

  async events_in_order() {
    const s = connect();
    await connected(s);
    const got = [];
    s.on("seq", (i) => got.push(i));
    for (let i = 0; i < 200; i++) s.emit("seq-echo", i);
    while (got.length < 200) await once(s, "seq");
    assert.deepEqual(got, [...Array(200).keys()]);
  },

  async message_event() {
    const s = connect();
    await connected(s);
    s.send("hello", 1);
    const [a, b] = await once(s, "message");
    assert.equal(a, "hello back");
    assert.equal(b, 1);
  },

  async rooms() {
    const a = connect();
    const b = connect();
    const c = connect();
    await Promise.all([a, b, c].map(connected));
    await ack(a, "join", ["r1", "r2"]);
    await ack(b, "join", ["r2"]);
    const quietC = nothingWithin(c, "room-msg", 300);
    const gotA = once(a, "room-msg");
    const gotB = once(b, "room-msg");
    c.emit("to-room", { rooms: ["r1", "r2"], msg: "hi" });
    assert.deepEqual(await gotA, ["hi"]);
    assert.deepEqual(await gotB, ["hi"]);
    await quietC;
    // except: r2 minus r1 reaches b only
    const quietA = nothingWithin(a, "room-msg", 300);
    const gotB2 = once(b, "room-msg");
    c.emit("to-room", { rooms: ["r2"], except: ["r1"], msg: "only b" });
    assert.deepEqual(await gotB2, ["only b"]);
    await quietA;
    // leave
    await ack(a, "leave", "r1");
    const [rooms] = await ack(a, "my-rooms");
    assert.deepEqual(rooms.sort(), [a.id, "r2"].sort());
    // to(socket id)
    const direct = once(b, "room-msg");
    c.emit("to-room", { rooms: [b.id], msg: "direct" });
    assert.deepEqual(await direct, ["direct"]);
  },

  async broadcast_excludes_sender() {
    const a = connect();
    const b = connect();
    const c = connect();
    await Promise.all([a, b, c].map(connected));
    const quietA = nothingWithin(a, "shouted", 300);
    const gb = once(b, "shouted");
    const gc = once(c, "shouted");
    a.emit("shout", "hey");
    assert.deepEqual(await gb, ["hey"]);
    assert.deepEqual(await gc, ["hey"]);
    await quietA;
  },

  async namespaces_multiplexed() {
    const root = io(base, { transports, reconnection: false, ...parser });
    const chat = io(base + "/chat", { transports, reconnection: false, ...parser });
    const news = io(base + "/news", { transports, reconnection: false, ...parser });
    opened.push(root, chat, news);
    assert.equal(root.io, chat.io);
    assert.equal(chat.io, news.io);
    const [[wc], [wn]] = await Promise.all([once(chat, "welcome"), once(news, "welcome")]);
    assert.equal(wc.nsp, "/chat");
    assert.equal(wn.nsp, "/news");
    await connected(root);
    assert.notEqual(chat.id, news.id);
  },

  async invalid_namespace() {
    const s = connect("/does-not-exist");
    const [err] = await once(s, "connect_error");
    assert.equal(err.message, "Invalid namespace");
  },

  async middleware_rejects_with_data() {
    const bad = connect("/private", { auth: { token: "wrong" } });
    const [err] = await once(bad, "connect_error");
    assert.equal(err.message, "Not authorized");
    assert.deepEqual(err.data, { code: 401, hint: "send a token" });
    const good = connect("/private", { auth: { token: "secret" } });
    const [w] = await once(good, "welcome");
    assert.equal(w.nsp, "/private");
  },

  async auth_function_is_called() {
    let calls = 0;
    const s = connect("/private", {
      auth: (cb) => {
        calls++;
        cb({ token: "secret" });
      },
    });
    await once(s, "welcome");
    assert.equal(calls, 1);
  },

  async dynamic_namespace() {
    const s = connect("/dyn-42");
    const [w] = await once(s, "welcome");
    assert.equal(w.nsp, "/dyn-42");
    const [n] = await ack(s, "created-namespaces");
    assert.ok(n.includes("/dyn-42"));
  },

  async server_disconnect() {
    const s = connect();
    await connected(s);
    s.emit("kick-me");
    const [reason] = await once(s, "disconnect");
    assert.equal(reason, "io server disconnect");
  },

  async server_disconnect_with_close() {
    const s = connect();
    await connected(s);
    s.emit("kick-me-hard");
    const [reason] = await once(s, "disconnect");
    assert.ok(["io server disconnect", "transport close"].includes(reason), reason);
  },

  async client_disconnect_reason_and_disconnecting_rooms() {
    const observer = connect();
    await connected(observer);
    await ack(observer, "join", ["observers"]);
    const s = connect();
    await connected(s);
    await ack(s, "join", ["leaving-room"]);
    const got = once(observer, "left");
    s.disconnect();
    const [info] = await got;
    assert.equal(info.reason, "client namespace disconnect");
    assert.ok(info.rooms.includes("leaving-room"), JSON.stringify(info));
  },

  async fetch_sockets_and_sockets_join() {
    const a = connect();
    const b = connect();
    await Promise.all([a, b].map(connected));
    const ga = once(a, "all-joined");
    const gb = once(b, "all-joined");
    const [n] = await ack(a, "everyone-join", "all");
    assert.ok(n >= 2);
    await ga;
    await gb;
    const [ids] = await ack(a, "fetch-ids");
    assert.ok(ids.includes(a.id) && ids.includes(b.id));
  },

  async broadcast_with_ack() {
    const a = connect();
    const b = connect();
    a.on("vote", (cb) => cb("a"));
    b.on("vote", (cb) => cb("b"));
    await Promise.all([a, b].map(connected));
    await ack(a, "join", ["voters"]);
    await ack(b, "join", ["voters"]);
    const [votes] = await ack(a, "poll-voters");
    assert.deepEqual(votes.sort(), ["a", "b"]);
  },

  async on_any_and_middleware() {
    const s = connect();
    await connected(s);
    s.emit("anything", 1);
    s.emit("blocked-event", 2);
    const [seen] = await ack(s, "seen-events");
    assert.ok(seen.includes("anything"));
    assert.ok(!seen.includes("blocked-event"), JSON.stringify(seen));
    const [errors] = await ack(s, "seen-errors");
    assert.ok(errors.some((e) => e.includes("blocked")), JSON.stringify(errors));
  },

  async volatile_ticks_arrive() {
    // Volatile packets are dropped while the transport is busy (over polling: while no GET is
    // held), so ask again until one gets through.
    const s = connect();
    await connected(s);
    const got = once(s, "tick");
    const again = setInterval(() => s.emit("tick-me", 5), 50);
    s.emit("tick-me", 5);
    const [n] = await got;
    clearInterval(again);
    assert.equal(typeof n, "number");
  },

  async msgpack_on_the_wire() {
    // Every Socket.IO packet both ways is one binary message (MessagePack), binary values
    // native (no attachments, no placeholders).
    assert.ok(parser.parser, "run with msgpack");
    const s = connect();
    const seen = [];
    const hook = () => {
      s.io.engine.on("packet", (p) => p.type === "message" && seen.push(["in", p.data]));
      s.io.engine.on("packetCreate", (p) => p.type === "message" && seen.push(["out", p.data]));
    };
    if (s.io.engine) hook();
    else s.io.once("open", hook);
    await connected(s);
    const [back] = await ack(s, "binary-echo", { name: "n", data: Buffer.from([9, 8]), parts: [] });
    assert.deepEqual([...back.data], [9, 8]);
    assert.ok(seen.length >= 4, JSON.stringify(seen));
    for (const [dir, data] of seen) {
      assert.notEqual(typeof data, "string", `${dir}: ${data}`);
    }
    // The server's CONNECT reply, decoded as the npm parser reads it.
    const { decode } = require("notepack.io");
    const reply = decode(Buffer.from(seen.find(([d]) => d === "in")[1]));
    assert.equal(reply.type, 0);
    assert.equal(reply.nsp, "/");
    assert.equal(typeof reply.data.sid, "string");
  },

  async relay_args() {
    // The server's handler takes `sio::Args` and relays them as an event and as the ack.
    const s = connect();
    const packets = recordPackets(s);
    await connected(s);
    const cases = [
      [[1, 2]],
      [1, 2],
      [null],
      [],
      [{ zeta: 1, alpha: { z: null, y: [{ d: 0, c: 1 }] }, middle: "m" }, "x"],
      ["é€😀\"\\\n", 0.1, -1.5e-7, 1e21, 2 ** 53, true, false, [[], {}], ""],
    ];
    for (const [i, args] of cases.entries()) {
      const relayed = once(s, "relayed");
      const back = await ack(s, "relay", ...args);
      assert.deepEqual(back, args);
      assert.deepEqual(await relayed, args);
      // Same argument count and the same keys in the same order.
      assert.equal(JSON.stringify(back), JSON.stringify(args));
      // Byte for byte: what we sent after the event name is what came back.
      const sent = textAfter(packets.sent, `2${i}["relay"`);
      assert.equal(textAfter(packets.received, `2["relayed"`), sent);
      const acked = textAfter(packets.received, `3${i}[`);
      assert.equal(args.length === 0 ? acked : "," + acked, sent);
      packets.sent.length = 0;
      packets.received.length = 0;
    }
    // Through a broadcast: relayed to the other sockets as it came.
    const other = connect();
    await connected(other);
    const got = once(other, "relayed");
    const obj = { b: 1, a: 2 };
    s.emit("relay-to-others", obj, [obj], null);
    const back = await got;
    assert.deepEqual(back, [obj, [obj], null]);
    assert.equal(JSON.stringify(back), JSON.stringify([obj, [obj], null]));
  },

  async relay_binary_args() {
    const s = connect();
    await connected(s);
    const args = [
      Buffer.from([1, 2, 3]),
      { deep: { list: [Buffer.alloc(0), "x", Buffer.from([255])] }, after: 1, before: [0] },
      "tail",
      [Buffer.alloc(70000, 7)],
    ];
    const relayed = once(s, "relayed");
    for (const back of [await ack(s, "relay", ...args), await relayed]) {
      assert.equal(back.length, 4);
      assert.ok(Buffer.isBuffer(back[0]));
      assert.deepEqual([...back[0]], [1, 2, 3]);
      assert.deepEqual(Object.keys(back[1]), ["deep", "after", "before"]);
      const list = back[1].deep.list;
      assert.ok(Buffer.isBuffer(list[0]) && Buffer.isBuffer(list[2]));
      assert.deepEqual([list[0].length, list[1], [...list[2]]], [0, "x", [255]]);
      assert.equal(back[2], "tail");
      assert.ok(Buffer.isBuffer(back[3][0]));
      assert.equal(back[3][0].length, 70000);
      assert.equal(back[3][0][69999], 7);
    }
    // The server asks the client with these arguments (an emit with ack whose answer the
    // server takes as `Args`), and relays the answer back.
    s.on("question-args", (...got) => {
      const cb = got.pop();
      assert.equal(got.length, 4);
      assert.ok(Buffer.isBuffer(got[1].deep.list[2]));
      cb(got[1].deep.list[2], { k: Buffer.from("ok") }, null);
    });
    s.emit("ask-args", ...args);
    const answer = await once(s, "answer-args");
    assert.equal(answer.length, 3);
    assert.deepEqual([...answer[0]], [255]);
    assert.equal(answer[1].k.toString(), "ok");
    assert.equal(answer[2], null);
  },

  async one_null_is_one_argument() {
    const a = connect();
    const b = connect();
    await Promise.all([a, b].map(connected));
    // A handler taking `serde_json::Value` gets `Null` and answers with it: one argument.
    const back = await ack(a, "echo", null);
    assert.equal(back.length, 1);
    assert.equal(back[0], null);
    // A broadcast of `Value::Null`.
    const got = once(b, "shouted");
    a.emit("shout", null);
    assert.deepEqual(await got, [null]);
    // The client answers the server's ack with one null: relayed as one argument.
    a.on("question-args", (...args) => args.pop()(null));
    a.emit("ask-args", 1);
    assert.deepEqual(await once(a, "answer-args"), [null]);
  },

  async extra_arguments_ignored() {
    const s = connect();
    await connected(s);
    // `String` takes the first argument.
    assert.deepEqual(await ack(s, "first-string", "a", "b"), ["a"]);
    // `(i64, i64)` takes the first two.
    assert.deepEqual(await ack(s, "add-two", 1, 2, 3), [3]);
    // `(String, Option<i64>)`: a missing second argument is `None`.
    assert.deepEqual(await ack(s, "optional-second", "a"), ["a", null]);
    assert.deepEqual(await ack(s, "optional-second", "a", 5, "extra"), ["a", 5]);
  },

  async bad_arguments_reported() {
    const s = connect();
    await connected(s);
    await ack(s, "first-string", "ok");
    // Arguments that do not fit `String`: reported to `on_error`, the handler does not run.
    s.emit("first-string", 5, () => assert.fail("the handler ran"));
    s.emit("first-string");
    const [errors] = await ack(s, "seen-errors");
    const ours = errors.filter((e) => e.includes("first-string"));
    assert.equal(ours.length, 2, JSON.stringify(errors));
    assert.ok(ours[1].includes("missing argument"), ours[1]);
    const [ran] = await ack(s, "seen-ran");
    assert.deepEqual(ran, ["ok"]);
  },

  async reconnect_after_transport_close() {
    const s = io(base, { transports, forceNew: true, reconnectionDelay: 50, reconnectionDelayMax: 100, ...parser });
    opened.push(s);
    await connected(s);
    const first = s.id;
    s.emit("close-my-transport");
    const [reason] = await once(s, "disconnect");
    assert.equal(reason, "transport close");
    await once(s, "connect");
    assert.notEqual(s.id, first);
  },
};

const fn = scenarios[scenario];
if (!fn) {
  console.error("unknown scenario", scenario, "known:", Object.keys(scenarios).join(" "));
  process.exit(2);
}
const timer = setTimeout(() => {
  console.error("TIMEOUT in", scenario);
  process.exit(1);
}, 15000);
fn().then(
  () => {
    clearTimeout(timer);
    for (const s of opened) s.disconnect();
    console.log("PASS");
    process.exit(0);
  },
  (e) => {
    clearTimeout(timer);
    console.error("FAIL", scenario, mode, e && e.stack ? e.stack : e);
    process.exit(1);
  },
);
