// The npm `socket.io` server with connection state recovery on, for the recovery tests of our
// client (tests/src/recovery.rs).
//
// Usage: node recovery_server.js <maxDisconnectionDuration in ms>
//
// Prints "PORT <n>" once listening on 127.0.0.1, then "DISCONNECT <id> <reason>" when a
// socket disconnects, after emitting to it while it is away: "msg" "to-id" to its id,
// "to-room" to its room "r", "to-all" to everyone, and a volatile "volatile" (not kept).
// Each socket joins "r" unless recovered. Events: "send" n (the server emits "msg" n back),
// "whoami" (acked with {id, recovered, rooms}).
"use strict";
const { Server } = require("socket.io");

const windowMs = Number(process.argv[2] ?? 120000);
const httpServer = require("node:http").createServer();
const io = new Server(httpServer, {
  pingInterval: 1000,
  pingTimeout: 2000,
  connectionStateRecovery: { maxDisconnectionDuration: windowMs, skipMiddlewares: true },
});
io.on("connection", (socket) => {
  if (!socket.recovered) socket.join("r");
  socket.on("send", (n) => socket.emit("msg", n));
  socket.on("whoami", (ack) => ack({ id: socket.id, recovered: socket.recovered, rooms: [...socket.rooms] }));
  socket.on("disconnect", (reason) => {
    io.to(socket.id).emit("msg", "to-id");
    io.to("r").emit("msg", "to-room");
    io.emit("msg", "to-all");
    io.volatile.emit("msg", "volatile");
    process.stdout.write(`DISCONNECT ${socket.id} ${reason}\n`);
  });
});
httpServer.listen(0, "127.0.0.1", () => process.stdout.write(`PORT ${httpServer.address().port}\n`));
process.stdin.on("data", () => {});
process.stdin.on("end", () => process.exit(0));
