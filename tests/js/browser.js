// The demo pages in a real browser: Debian's Chromium driven by playwright-core. Each scenario
// drives pages the way a person would (typing, clicking) and waits for what they should show.
// On a failure the open pages are screenshotted into --artifacts and their text is printed.
//
// node browser.js --chromium PATH --artifacts DIR --chat URL --cheatsheet URL --axum URL --cors URL
"use strict";
const fs = require("fs");
const path = require("path");
const { chromium } = require("playwright-core");

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, "")] = process.argv[i + 1];

const WAIT = 15000;

// Waits until the text of `selector` on `page` contains `text`.
async function waitText(page, selector, text) {
  try {
    await page.waitForFunction(
      ([sel, want]) => (document.querySelector(sel)?.textContent ?? "").includes(want),
      [selector, text],
      { timeout: WAIT },
    );
  } catch (e) {
    const now = await page.locator(selector).textContent().catch(() => "?");
    throw new Error(`${selector} never showed ${JSON.stringify(text)}; it shows ${JSON.stringify(now)}`);
  }
}

async function text(page, selector) {
  return (await page.locator(selector).textContent()) ?? "";
}

function check(cond, what) {
  if (!cond) throw new Error(what);
}

// Two chat pages: nicknames, a message across, rooms that keep messages apart, a join notice
// and a leave notice.
async function chat(open) {
  const a = await open(args.chat);
  const b = await open(args.chat);
  await waitText(a, "#status", "connected (websocket)");
  await waitText(b, "#status", "connected (websocket)");
  await a.fill("#nick", "alice");
  await a.click("#nickf button");
  await waitText(a, "#log", "is now alice");
  await waitText(b, "#log", "is now alice");
  await b.fill("#nick", "bob");
  await b.click("#nickf button");
  await waitText(a, "#log", "is now bob");
  await a.fill("#text", "hello from alice");
  await a.press("#text", "Enter");
  await waitText(b, "#log", "alice: hello from alice");
  await waitText(a, "#log", "alice: hello from alice");

  await b.fill("#room", "den");
  await b.click("#roomf button");
  await waitText(b, "#log", "now in #den");
  await b.fill("#text", "bob in the den");
  await b.press("#text", "Enter");
  await waitText(b, "#log", "bob: bob in the den");
  await a.fill("#text", "anyone in the lobby?");
  await a.press("#text", "Enter");
  await waitText(a, "#log", "alice: anyone in the lobby?");
  check(!(await text(a, "#log")).includes("bob in the den"), "a lobby page got a message of #den");
  check(!(await text(b, "#log")).includes("anyone in the lobby?"), "a #den page got a lobby message");

  await a.fill("#room", "den");
  await a.click("#roomf button");
  await waitText(a, "#log", "now in #den");
  await waitText(b, "#log", "alice joined");
  await a.fill("#text", "found you");
  await a.press("#text", "Enter");
  await waitText(b, "#log", "alice: found you");
  await b.close();
  await waitText(a, "#log", "bob left");
}

// The emit cheat sheet: rooms, a room emit between two pages, an ack the page answers, a
// binary attachment and a namespace-wide emit.
async function cheatsheet(open) {
  const a = await open(args.cheatsheet);
  const b = await open(args.cheatsheet);
  await waitText(a, "#me", "I am ");
  await waitText(b, "#me", "I am ");
  const aId = (await text(a, "#me")).split(" ")[2];
  const button = (page, name) => page.getByRole("button", { name, exact: true }).click();

  await b.check("input[name=room][value=room1]");
  await button(b, "set rooms");
  await waitText(b, "#log", "now in rooms:");
  check((await text(b, "#log")).includes("room1"), "the page did not join room1");

  await button(a, "to-room");
  await waitText(a, "#log", 'server ran: socket.to("room1").emit("hello", ..)');
  await waitText(b, "#log", `/ got hello: room1 but ${aId}`);

  await button(a, "with-ack");
  await waitText(a, "#log", "/ got question: what is 6 x 7?");
  await waitText(a, "#log", "-> Ok(Number(42))");

  await button(a, "binary");
  await waitText(a, "#log", "/ got hello: binary <binary de ad be ef>");

  await button(a, "in-namespace");
  await waitText(a, "#log", "/myNamespace got hello: everyone in /myNamespace");
  await waitText(b, "#log", "/myNamespace got hello: everyone in /myNamespace");
}

// Socket.IO mounted in an axum application: the page upgrades, echoes with an ack, and the
// application's own route sees the connected socket.
async function axum(open) {
  const a = await open(args.axum);
  await waitText(a, "#log", "connected over");
  // The upgrade may complete before or after the `connect` event: the page logs one or the
  // other, so the transport itself is what is waited for.
  await a.waitForFunction(() => socket.io.engine.transport.name === "websocket", null, { timeout: WAIT });
  await a.click("#f button");
  await waitText(a, "#log", "echo: hello axum (server sees websocket)");
  const health = await open(args.axum + "/health");
  const body = (await health.textContent("body")) ?? "";
  check(body.includes("1 sockets on /"), `/health says ${JSON.stringify(body)}`);
}

// A page of another origin connects over long-polling with an `authorization` header (a CORS
// preflight the browser enforces); a server that does not allow the origin is refused.
async function cors(open) {
  const a = await open(args.cors);
  await waitText(a, "#welcome", '"authorization":"Bearer browser-token"');
  await waitText(a, "#welcome", '"transport":"polling"');
  await waitText(a, "#echo", "echo: cross-origin");
  await waitText(a, "#refused", "refused: xhr poll error");
}

async function main() {
  const browser = await chromium.launch({
    executablePath: args.chromium,
    headless: true,
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  let failed = 0;
  const scenarios = { chat, cheatsheet, axum, cors };
  for (const [name, run] of Object.entries(scenarios)) {
    const context = await browser.newContext();
    const pages = [];
    const open = async (url) => {
      const page = await context.newPage();
      page.on("pageerror", (e) => console.log(`${name}: page error: ${e.message}`));
      pages.push(page);
      await page.goto(url);
      return page;
    };
    try {
      await run(open);
      console.log(`ok ${name}`);
    } catch (e) {
      failed++;
      console.log(`FAILED ${name}: ${e.message}`);
      fs.mkdirSync(args.artifacts, { recursive: true });
      for (const [i, page] of pages.entries()) {
        if (page.isClosed()) continue;
        const file = path.join(args.artifacts, `${name}-${i}.png`);
        await page.screenshot({ path: file, fullPage: true }).catch(() => {});
        console.log(`  page ${i} (${page.url()}): screenshot ${file}`);
        console.log(`  ${JSON.stringify(((await page.innerText("body").catch(() => "")) ?? "").slice(0, 2000))}`);
      }
    }
    await context.close();
  }
  await browser.close();
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.log(`FAILED: ${e.stack || e}`);
  process.exit(1);
});
