// untwist's page: builds a job from the form, posts it to /api/jobs, follows
// its progress over server-sent events and draws the result grid. No
// framework, nothing fetched from elsewhere.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { token: sessionStorage.getItem("untwist-token") || "", job: null, events: null,
                historyOffset: 0, historyLimit: 10, health: null };

function withToken(url) {
  return state.token ? url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(state.token) : url;
}

async function api(method, url, body) {
  const headers = {};
  if (state.token) headers.Authorization = "Bearer " + state.token;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  let data = {};
  try { data = await response.json(); } catch (e) { data = {}; }
  if (response.status === 401) $("token-row").hidden = false;
  if (!response.ok) {
    const error = new Error(data.error || ("HTTP " + response.status));
    error.status = response.status;
    throw error;
  }
  return data;
}

function showError(message) {
  $("error").textContent = message || "";
  $("error").hidden = !message;
}

function element(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

// ---- the form ----

function addTarget(text) {
  const index = $("targets").children.length + 1;
  const input = element("input", { type: "text", class: "target", autocomplete: "off",
                                   "aria-label": "target prompt " + index });
  input.value = text || "";
  const remove = element("button", { type: "button", class: "remove", "aria-label": "remove target " + index,
                                     text: "Remove" });
  const item = element("li", {}, input, remove);
  remove.addEventListener("click", () => {
    if ($("targets").children.length > 1) { item.remove(); relabelTargets(); }
  });
  $("targets").append(item);
  return input;
}

function relabelTargets() {
  [...$("targets").children].forEach((item, i) => {
    item.querySelector("input").setAttribute("aria-label", "target prompt " + (i + 1));
    item.querySelector("button").setAttribute("aria-label", "remove target " + (i + 1));
  });
}

function showKnob(input) {
  const output = input.parentElement.querySelector("output");
  if (output) output.textContent = input.value;
}

function readFileAsDataUrl(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(new Error("cannot read " + file.name));
    reader.readAsDataURL(file);
  });
}

async function buildRequest() {
  const reference = {};
  if ($("ref-kind-image").checked) {
    const file = $("ref-image").files[0];
    if (!file) throw new Error("choose a reference image");
    reference.image = await readFileAsDataUrl(file);
    if ($("ref-prompt").value.trim()) reference.prompt = $("ref-prompt").value.trim();
    if ($("ref-invert").checked) reference.mode = "invert";
  } else {
    reference.prompt = $("ref-prompt").value.trim();
  }
  const targets = [...document.querySelectorAll("#targets input.target")].map((i) => i.value.trim())
    .filter((t) => t.length > 0);
  const modes = [...document.querySelectorAll("input[name=mode]:checked")].map((i) => i.value);
  if (targets.length === 0) throw new Error("add at least one target prompt");
  if (modes.length === 0) throw new Error("check at least one mode");
  const number = (id) => Number($(id).value);
  return {
    reference, targets, modes,
    seed: Math.max(0, Math.floor(number("seed") || 0)),
    steps: number("steps"),
    attention: $("attention").checked,
    share: {
      blocks: $("blocks").value.trim() || "default",
      s_hf: [number("s-hf-start"), number("s-hf-end")],
      s_lf: [number("s-lf-start"), number("s-lf-end")],
      beta: number("beta"),
      axis0: $("axis0").value,
    },
  };
}

// ---- running a job ----

function setRunning(running) {
  $("generate").disabled = running;
  $("cancel").disabled = !running;
}

function showProgress(job) {
  $("progress").value = job.progress || 0;
  const percent = Math.round((job.progress || 0) * 100);
  $("status").textContent = job.status === "running" ? "running " + percent + "%" : job.status;
}

function follow(id) {
  if (state.events) state.events.close();
  const source = new EventSource(withToken("/api/jobs/" + id + "/events"));
  state.events = source;
  source.addEventListener("job", (event) => {
    const job = JSON.parse(event.data);
    showProgress(job);
    if (["done", "failed", "cancelled"].includes(job.status)) {
      source.close();
      state.events = null;
      finished(job);
    }
  });
  source.onerror = () => {
    // The stream broke (server restarted, network): fall back to asking.
    source.close();
    if (state.events === source) { state.events = null; poll(id); }
  };
}

async function poll(id) {
  try {
    const job = await api("GET", "/api/jobs/" + id);
    showProgress(job);
    if (["done", "failed", "cancelled"].includes(job.status)) finished(job);
    else setTimeout(() => poll(id), 500);
  } catch (e) {
    showError(e.message);
    setRunning(false);
  }
}

function finished(job) {
  setRunning(false);
  state.job = job;
  if (job.status === "failed") showError("the job failed: " + (job.error || "unknown reason"));
  if (job.status === "done") drawGrid(job);
  loadHistory();
}

async function generate(event) {
  if (event) event.preventDefault();
  showError("");
  let request;
  try {
    request = await buildRequest();
  } catch (e) {
    showError(e.message);
    return;
  }
  setRunning(true);
  $("progress").value = 0;
  $("status").textContent = "queued";
  try {
    const { id } = await api("POST", "/api/jobs", request);
    state.job = { id };
    follow(id);
  } catch (e) {
    setRunning(false);
    $("status").textContent = "";
    showError(e.status === 429 ? "the server is busy: " + e.message : e.message);
  }
}

async function cancel() {
  if (!state.job || !state.job.id) return;
  try {
    await api("DELETE", "/api/jobs/" + state.job.id);
    $("status").textContent = "cancelling";
  } catch (e) {
    showError(e.message);
  }
}

// ---- the result grid ----

function format(value) {
  return typeof value === "number" ? value.toFixed(2) : String(value);
}

function metricLines(metrics, role) {
  const lines = [];
  if (!metrics) return lines;
  if (role === "target" && "copy_iou" in metrics) lines.push("copy IoU " + format(metrics.copy_iou));
  if (role === "target" && "style_distance" in metrics) lines.push("style dist " + format(metrics.style_distance));
  if ("shape_seen" in metrics) {
    lines.push("shape " + metrics.shape_seen + ("shape_correct" in metrics ? (metrics.shape_correct ? " ✓" : " ✗") : ""));
  } else if ("object" in metrics && !metrics.object) {
    lines.push("no object");
  }
  return lines;
}

function summaryText(summary) {
  if (!summary) return "";
  const parts = [];
  if ("copy_iou" in summary) parts.push("copy " + format(summary.copy_iou));
  if ("style_distance" in summary) parts.push("style " + format(summary.style_distance));
  if ("copy_meter" in summary) parts.push("copy meter " + format(summary.copy_meter));
  return parts.join(", ");
}

function drawGrid(job) {
  const grid = $("grid");
  grid.replaceChildren();
  const request = job.request || {};
  const modes = request.modes || [];
  const targets = request.targets || [];
  grid.append(element("caption", { text: "reference: " + (request.reference && request.reference.prompt
    ? request.reference.prompt : "uploaded image") + " · seed " + request.seed + " · " +
    (job.recipe && job.recipe.steps ? job.recipe.steps + " steps" : "") }));
  const head = element("tr", {}, element("th", { scope: "col", text: "mode" }),
                       element("th", { scope: "col", text: "reference" }));
  for (const target of targets) head.append(element("th", { scope: "col", text: target }));
  grid.append(element("thead", {}, head));
  const body = element("tbody");
  for (const mode of modes) {
    const row = element("tr", { "data-mode": mode });
    const label = element("th", { scope: "row" }, element("span", { class: "mode", text: mode }));
    const summary = summaryText((job.metrics || {})[mode]);
    if (summary) label.append(element("span", { class: "summary", text: summary }));
    row.append(label);
    const images = job.images.filter((image) => image.mode === mode);
    for (const image of images) {
      const url = withToken(image.url);
      const name = job.id + "-" + mode + "-" + (image.role === "reference" ? "reference" : image.target) + ".png";
      const img = element("img", { src: url, alt: mode + ": " + image.target, "data-mode": mode,
                                   "data-target": image.target, "data-role": image.role, width: "96", height: "96" });
      const link = element("a", { href: url, download: name.replace(/[^a-zA-Z0-9.-]+/g, "_"),
                                  "aria-label": "download " + mode + " " + image.target + " with its recipe" }, img);
      const figure = element("figure", {}, link);
      const lines = metricLines(image.metrics, image.role);
      if (lines.length) {
        const caption = element("figcaption");
        for (const line of lines) caption.append(element("span", { text: line }));
        figure.append(caption);
      }
      row.append(element("td", {}, figure));
    }
    body.append(row);
  }
  grid.append(body);
  grid.hidden = false;
  $("results-empty").hidden = true;
  if (job.attention_url) {
    $("attention-image").src = withToken(job.attention_url);
    $("attention-figure").hidden = false;
  } else {
    $("attention-figure").hidden = true;
  }
}

// ---- history ----

async function loadHistory() {
  try {
    const page = await api("GET", "/api/jobs?offset=" + state.historyOffset + "&limit=" + state.historyLimit);
    const list = $("history");
    list.replaceChildren();
    for (const job of page.jobs) {
      const request = job.request || {};
      const reference = request.reference && request.reference.prompt ? request.reference.prompt : "image";
      const when = new Date(job.created * 1000).toLocaleString();
      const text = reference + " → " + (request.targets || []).join(", ") + " · " + (request.modes || []).join("/") +
        " · " + job.status;
      const button = element("button", { type: "button", class: "history-entry", "data-id": job.id,
                                         text: text });
      button.append(element("small", { text: when }));
      button.addEventListener("click", () => openJob(job.id));
      list.append(element("li", {}, button));
    }
    if (page.jobs.length === 0) list.append(element("li", { text: "no jobs yet" }));
    $("newer").disabled = state.historyOffset === 0;
    $("older").disabled = state.historyOffset + page.jobs.length >= page.total;
  } catch (e) {
    if (e.status !== 401) showError(e.message);
  }
}

// The form as a past job's request had it (an uploaded image is not kept).
function fillForm(request) {
  if (!request || !request.reference) return;
  if (request.reference.prompt !== undefined) $("ref-prompt").value = request.reference.prompt;
  $("ref-invert").checked = request.reference.mode === "invert";
  $("targets").replaceChildren();
  for (const target of request.targets || []) addTarget(target);
  for (const box of document.querySelectorAll("input[name=mode]")) box.checked = (request.modes || []).includes(box.value);
  const share = request.share || {};
  const set = (id, value) => { if (value !== undefined) { $(id).value = value; showKnob($(id)); } };
  set("s-hf-start", share.s_hf && share.s_hf[0]);
  set("s-hf-end", share.s_hf && share.s_hf[1]);
  set("s-lf-start", share.s_lf && share.s_lf[0]);
  set("s-lf-end", share.s_lf && share.s_lf[1]);
  set("beta", share.beta);
  set("axis0", share.axis0);
  set("blocks", share.blocks);
  set("seed", request.seed);
  if (request.steps > 0) set("steps", request.steps);
  $("attention").checked = Boolean(request.attention) && !$("attention").disabled;
}

async function openJob(id) {
  try {
    const job = await api("GET", "/api/jobs/" + id);
    state.job = job;
    fillForm(job.request);
    showProgress(job);
    if (job.status === "done") drawGrid(job);
    else if (job.status === "queued" || job.status === "running") { setRunning(true); follow(id); }
    else showError("job " + id + " " + job.status + (job.error ? ": " + job.error : ""));
  } catch (e) {
    showError(e.message);
  }
}

// ---- start ----

async function connect() {
  try {
    const health = await api("GET", "/api/health");
    state.health = health;
    $("model").textContent = "model: " + health.model + " (" + health.family + "), " + health.steps + " steps by default";
    $("steps").value = health.steps;
    showKnob($("steps"));
    if (health.max_steps) $("steps").max = Math.min(health.max_steps, Math.max(50, health.steps * 2));
    if (health.vocabulary) {
      $("vocabulary").textContent = "The toy model knows these words: " + health.vocabulary.join(" ");
      $("vocabulary").hidden = false;
    }
    $("attention").disabled = !health.attention;
    $("token-row").hidden = true;
    loadHistory();
  } catch (e) {
    $("model").textContent = e.status === 401 ? "this server needs its token" : "cannot reach the server: " + e.message;
  }
}

function start() {
  for (const target of ["circle", "triangle"]) addTarget(target);
  $("add-target").addEventListener("click", () => addTarget("").focus());
  for (const input of document.querySelectorAll(".knob input[type=range]")) {
    showKnob(input);
    input.addEventListener("input", () => showKnob(input));
  }
  for (const radio of document.querySelectorAll("input[name=ref-kind]")) {
    radio.addEventListener("change", () => {
      const image = $("ref-kind-image").checked;
      $("ref-image-row").hidden = !image;
      $("ref-prompt-label").textContent = image ? "Caption of the reference (optional)" : "Reference prompt";
    });
  }
  $("job-form").addEventListener("submit", generate);
  $("job-form").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) generate(event);
  });
  $("cancel").addEventListener("click", cancel);
  $("show-rope").addEventListener("click", () => {
    $("rope-image").src = withToken("/api/rope-bands.png");
    $("rope-figure").hidden = false;
  });
  $("newer").addEventListener("click", () => {
    state.historyOffset = Math.max(0, state.historyOffset - state.historyLimit);
    loadHistory();
  });
  $("older").addEventListener("click", () => { state.historyOffset += state.historyLimit; loadHistory(); });
  $("save-token").addEventListener("click", () => {
    state.token = $("token").value;
    sessionStorage.setItem("untwist-token", state.token);
    connect();
  });
  connect();
}

document.addEventListener("DOMContentLoaded", start);
