// The page of `untwist serve` in headless Chromium: loads it, generates a toy
// set with two targets under none/full/untwisted, moves the s_hf slider with
// the keyboard and regenerates, checks the grid's images and metrics, the
// history and the phone-width layout, and saves screenshots.
//   node serve_page.mjs UNTWIST_BINARY OUTPUT_DIR
// Chromium: $CHROMIUM, else /usr/bin/chromium.
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer from "puppeteer-core";

const [binary, outputDir] = process.argv.slice(2);
if (!binary || !outputDir) {
  console.error("usage: node serve_page.mjs UNTWIST_BINARY OUTPUT_DIR");
  process.exit(2);
}
mkdirSync(outputDir, { recursive: true });
const dataDir = mkdtempSync(join(tmpdir(), "untwist-browser-"));
let server = null, browser = null;
const checks = { passed: 0, failed: 0 };

function check(condition, what) {
  if (condition) { checks.passed++; console.log("ok   " + what); }
  else { checks.failed++; console.log("FAIL " + what); }
}

async function cleanUp() {
  if (browser) await browser.close().catch(() => {});
  if (server) server.kill("SIGTERM");
  rmSync(dataDir, { recursive: true, force: true });
}

const deadline = setTimeout(async () => {
  console.error("the browser test took longer than 240 s");
  await cleanUp();
  process.exit(1);
}, 240000);

function startServer() {
  return new Promise((resolve, reject) => {
    server = spawn(binary, ["--threads", "1", "serve", "--port", "0", "--data", dataDir],
                   { stdio: ["ignore", "pipe", "inherit"] });
    let output = "";
    server.stdout.on("data", (chunk) => {
      output += chunk;
      const match = output.match(/http:\/\/127\.0\.0\.1:(\d+)\//);
      if (match) resolve(match[0]);
    });
    server.on("exit", (code) => reject(new Error("the server ended (" + code + "): " + output)));
  });
}

// The grid's images as {mode, target, role, src, loaded} in page order.
async function gridImages(page) {
  return page.$$eval("#grid img", (images) => images.map((img) => ({
    mode: img.dataset.mode, target: img.dataset.target, role: img.dataset.role, src: img.getAttribute("src"),
    loaded: img.complete && img.naturalWidth === 32,
    caption: img.closest("figure").querySelector("figcaption")?.textContent || "",
  })));
}

async function waitForJob(page, previousSrc) {
  await page.waitForFunction((previous) => {
    const first = document.querySelector("#grid img");
    const done = document.getElementById("status").textContent === "done";
    return done && first && first.getAttribute("src") !== previous &&
      [...document.querySelectorAll("#grid img")].every((img) => img.complete && img.naturalWidth > 0);
  }, { timeout: 120000 }, previousSrc);
}

try {
  const url = await startServer();
  console.log("server at " + url);
  browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
  });
  const page = await browser.newPage();
  const consoleErrors = [];
  page.on("console", (message) => { if (message.type() === "error") consoleErrors.push(message.text()); });
  page.on("pageerror", (error) => consoleErrors.push(String(error)));
  await page.setViewport({ width: 1280, height: 900 });
  await page.goto(url, { waitUntil: "networkidle0" });
  await page.waitForFunction(() => document.getElementById("model").textContent.startsWith("model: toy"),
                             { timeout: 30000 });
  check(true, "the page loads and reads /api/health");
  const accent = await page.$eval("#generate", (button) => getComputedStyle(button).backgroundColor);
  check(accent === "rgb(44, 95, 209)", "the stylesheet applies (Generate is " + accent + ")");

  // Two targets, the three modes the page checks by default.
  await page.$eval("#ref-prompt", (input) => { input.value = ""; });
  await page.type("#ref-prompt", "checked orange square on purple");
  const targets = await page.$$eval("#targets input.target", (inputs) => inputs.map((i) => i.value));
  check(targets.length === 2 && targets[0] === "circle" && targets[1] === "triangle",
        "two target prompts: " + targets.join(", "));
  await page.click("#generate");
  await waitForJob(page, null);
  let images = await gridImages(page);
  const rows = await page.$$eval("#grid tbody tr", (trs) => trs.map((tr) => tr.dataset.mode));
  check(rows.join() === "none,full,untwisted", "one grid row per mode: " + rows.join());
  check(images.length === 9, "3 modes x (reference + 2 targets) = 9 images, found " + images.length);
  check(images.every((image) => image.loaded), "every image is a 32x32 PNG the browser decoded");
  check(images.filter((i) => i.role === "reference").length === 3, "the reference leads each row");
  check(images.filter((i) => i.role === "target").every((i) => /copy IoU \d/.test(i.caption) &&
        /style dist \d/.test(i.caption)), "copy IoU and style distance under every target");
  const firstSrc = images[0].src;

  // The s_hf start slider, moved from the keyboard: 0.25 -> 0.05.
  await page.focus("#s-hf-start");
  for (let i = 0; i < 4; ++i) await page.keyboard.press("ArrowLeft");
  const shown = await page.$eval("#s-hf-start + output", (output) => output.textContent);
  check(shown === "0.05", "the slider's value shows beside it: " + shown);
  await page.keyboard.down("Control");
  await page.keyboard.press("Enter");
  await page.keyboard.up("Control");
  await waitForJob(page, firstSrc);
  images = await gridImages(page);
  check(images.length === 9 && images.every((image) => image.loaded), "the regenerated grid has its 9 images");
  const jobId = images[0].src.split("/")[3];
  const job = await page.evaluate(async (id) => (await fetch("/api/jobs/" + id)).json(), jobId);
  check(JSON.stringify(job.request.share.s_hf) === "[0.05,0.75]",
        "the second job ran with s_hf " + JSON.stringify(job.request.share.s_hf));
  const recipeOk = await page.evaluate(async (src) => {
    const bytes = new Uint8Array(await (await fetch(src)).arrayBuffer());
    return new TextDecoder("latin1").decode(bytes).includes('"s_hf":[0.05,0.75]');
  }, images[5].src);
  check(recipeOk, "a downloaded PNG carries its recipe with the new s_hf");
  await page.waitForFunction(() => document.querySelectorAll("#history .history-entry").length === 2,
                             { timeout: 10000 });
  check(true, "the history lists both runs");

  await page.click("#show-rope");
  await page.waitForFunction(() => {
    const img = document.getElementById("rope-image");
    return img.complete && img.naturalWidth > 0;
  }, { timeout: 30000 });
  check(true, "the RoPE band plot shows on demand");

  await page.screenshot({ path: join(outputDir, "serve_page.png"), fullPage: true });

  // Phone width: nothing but the grid's own scroller is wider than the screen.
  // (A mobile viewport reloads the page: the last run comes back from the history.)
  await page.setViewport({ width: 390, height: 844, isMobile: true, hasTouch: true });
  await page.waitForSelector("#history .history-entry", { timeout: 30000 });
  await page.click("#history .history-entry");
  await page.waitForFunction(() => document.querySelectorAll("#grid img").length === 9 &&
    [...document.querySelectorAll("#grid img")].every((img) => img.complete && img.naturalWidth > 0),
    { timeout: 30000 });
  const restored = await page.$eval("#s-hf-start", (input) => input.value);
  check(restored === "0.05", "a run opens again from the history, its knobs back in the form (s_hf " + restored + ")");
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, "readable at 390 px: the page is " + overflow + " px wider than the screen");
  await page.screenshot({ path: join(outputDir, "serve_page_phone.png"), fullPage: true });

  check(consoleErrors.length === 0, "no errors in the browser console" +
        (consoleErrors.length ? ": " + consoleErrors.join(" | ") : ""));
} catch (error) {
  checks.failed++;
  console.log("FAIL " + (error && error.stack ? error.stack : error));
}
clearTimeout(deadline);
await cleanUp();
console.log(checks.passed + " passed, " + checks.failed + " failed");
process.exit(checks.failed === 0 ? 0 : 1);
