// The review page: plain JavaScript over the Checkpointing API (no build step, no dependencies).
"use strict";

(() => {
  const api = document.querySelector('meta[name="checkpointing-api"]').content.replace(/\/$/, "");
  const $ = (id) => document.getElementById(id);
  const state = { runs: [], runId: null, status: null, checkpointId: null, details: null, source: null, refreshTimer: 0, busy: 0 };

  // ---- DOM helpers (no innerHTML: every text goes through textContent) -------------------------------------------

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "text") el.textContent = value;
      else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else if (key === "hue") el.style.setProperty("--hue", String(value));
      else el.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  const fill = (el, ...children) => el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  const money = (n) => "$" + Number(n || 0).toFixed(n >= 1 ? 2 : 3);
  const short = (id) => String(id).slice(0, 8);
  const when = (t) => t ? new Date(t).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" }) : "";
  const hue = (name) => { let x = 0; for (const c of String(name)) x = (x * 31 + c.charCodeAt(0)) % 360; return (x * 7 + 220) % 360; };
  const pill = (status, label) => h("span", { class: "pill " + status, text: label || status });
  const branchTag = (name) => h("span", { class: "branch-tag", hue: hue(name), text: name });

  // ---- HTTP -------------------------------------------------------------------------------------------------------

  async function call(method, path, { json, body, ifMatch, headers } = {}) {
    const init = { method, headers: { Accept: "application/json", ...(headers || {}) }, credentials: "same-origin" };
    if (json !== undefined) { init.body = JSON.stringify(json); init.headers["Content-Type"] = "application/json"; }
    if (body !== undefined) init.body = body;
    if (ifMatch) init.headers["If-Match"] = ifMatch;
    const response = await fetch(path.startsWith("/") ? path : `${api}/${path}`, init);
    const type = response.headers.get("Content-Type") || "";
    const data = response.status === 204 ? null : type.includes("json") ? await response.json() : await response.text();
    if (!response.ok) {
      const error = new Error(data && data.detail ? data.detail : `${response.status} ${response.statusText}`);
      error.problem = data; error.status = response.status;
      throw error;
    }
    return { status: response.status, data, headers: response.headers };
  }

  function toast(title, detail, error) {
    const el = h("div", { class: "toast" + (error ? " error" : "") }, h("strong", { text: title }), detail ? h("span", { text: detail }) : null);
    $("toasts").append(el);
    setTimeout(() => el.remove(), error ? 9000 : 4500);
  }

  async function guarded(button, label, action) {
    if (button) { button.disabled = true; button.setAttribute("aria-busy", "true"); }
    setLive("busy", label + "…");
    state.busy++;
    try { return await action(); }
    catch (e) { toast(e.problem && e.problem.title ? e.problem.title : "Request failed", e.message, true); return undefined; }
    finally {
      state.busy--;
      if (button) { button.disabled = false; button.removeAttribute("aria-busy"); }
      setLive(state.source ? "on" : "", state.source ? "Live" : "Not connected");
    }
  }

  function setLive(mode, text) {
    if (state.busy > 0 && mode !== "busy") return;
    const live = $("live");
    live.className = "live " + (mode || "");
    $("live-text").textContent = text;
  }

  // ---- runs -------------------------------------------------------------------------------------------------------

  async function loadRuns() {
    const list = $("runs");
    try {
      const { data } = await call("GET", "runs");
      state.runs = data;
      fill(list, ...data.map((run) => h("li", {}, h("button", {
        type: "button", class: "run-item", "data-run": run.id, "aria-current": run.id === state.runId ? "true" : "false",
        onclick: () => selectRun(run.id, null, true),
      },
      h("span", { class: "title", text: runTitle(run) }),
      h("span", { class: "row" }, pill(run.status), h("span", { text: money(run.cost) })),
      h("span", { class: "row" }, h("span", { text: short(run.id) }), h("span", { text: when(run.createdAt) }))))));
      $("runs-empty").hidden = data.length > 0;
    } catch (e) {
      toast("Could not list runs", e.message, true);
    } finally {
      list.setAttribute("aria-busy", "false");
    }
  }

  function runTitle(run) {
    const input = run.input || {};
    return input.prompt || input.topic || input.title || `${run.pipeline} run`;
  }

  async function selectRun(runId, checkpointId, focus) {
    if (state.runId !== runId) {
      state.runId = runId;
      state.checkpointId = null;
      openStream(runId);
    }
    for (const b of document.querySelectorAll(".run-item")) b.setAttribute("aria-current", b.dataset.run === runId ? "true" : "false");
    $("welcome").hidden = true;
    $("run").hidden = false;
    await refreshRun();
    const target = checkpointId || state.checkpointId || (state.status.current && state.status.current.id) || lastCheckpoint(state.status.tree);
    if (target) await selectCheckpoint(target, false);
    if (focus) $("run-title").focus?.();
  }

  function lastCheckpoint(tree) {
    let last = null;
    const walk = (nodes) => nodes.forEach((n) => { if (!last || n.checkpoint.createdAt > last.createdAt) last = n.checkpoint; walk(n.children); });
    walk(tree || []);
    return last && last.id;
  }

  async function refreshRun() {
    const { data } = await call("GET", `runs/${state.runId}`);
    state.status = data;
    renderRun();
    const item = state.runs.find((r) => r.id === data.run.id);
    if (!item || item.status !== data.run.status || item.cost !== data.run.cost) loadRuns();
  }

  function renderRun() {
    const { run, tree, branches, cost } = state.status;
    $("run-title").textContent = runTitle(run);
    $("run-title").setAttribute("tabindex", "-1");
    fill($("run-meta"), pill(run.status), " ", `${run.pipeline} · run ${short(run.id)} · started ${when(run.createdAt)} by ${run.ownerId}`,
      run.error ? h("span", { class: "error", text: " · " + run.error }) : null);
    const count = countNodes(tree);
    fill($("run-stats"), 
      stat("Run cost", money(cost), "run-cost"),
      stat("Checkpoints", String(count)),
      stat("Branches", String(branches.length)));
    $("retry-run").hidden = !(run.status === "failed" || run.status === "running" || run.status === "queued");
    $("cancel-run").hidden = run.status === "completed" || run.status === "cancelled";
    renderTree(tree);
    fill($("branches"), ...branches.map((b) => h("li", {},
      h("span", {}, branchTag(b.name), b.parentBranch ? h("span", { class: "muted", text: ` from ${b.parentBranch}` }) : null),
      b.leaf ? h("span", { class: "muted", text: `phase ${b.leaf.phase}${b.canContinue ? " · can continue" : ""}` }) : null)));
  }

  const stat = (label, value, id) => h("div", {}, h("dt", { text: label }), h("dd", { id, text: value }));
  const countNodes = (nodes) => nodes.reduce((n, node) => n + 1 + countNodes(node.children), 0);

  function renderTree(roots) {
    const build = (nodes) => h("ul", {}, nodes.map((node) => {
      const c = node.checkpoint;
      return h("li", {},
        h("button", {
          type: "button", class: "node", hue: hue(c.branch), "data-checkpoint": c.id, "data-branch": c.branch,
          "aria-current": c.id === state.checkpointId ? "true" : "false",
          "aria-label": `Phase ${c.phase} on branch ${c.branch}, version ${c.version}, ${c.status}, cost ${money(c.cost)}`,
          onclick: () => selectCheckpoint(c.id, true),
        },
        h("span", { class: "line1" }, h("span", { class: "phase", text: `Phase ${c.phase}` }), branchTag(c.branch), pill(c.status)),
        h("span", { class: "line2" }, h("span", { text: `v${c.version} · ${short(c.id)}` }), h("span", { text: money(c.cost) }))),
        node.children.length ? build(node.children) : null);
    }));
    fill($("tree"), roots.length ? build(roots) : h("p", { class: "empty", text: "No checkpoint yet." }));
  }

  // ---- checkpoint ---------------------------------------------------------------------------------------------------

  async function selectCheckpoint(checkpointId, focus) {
    state.checkpointId = checkpointId;
    for (const b of document.querySelectorAll(".node")) b.setAttribute("aria-current", b.dataset.checkpoint === checkpointId ? "true" : "false");
    history.replaceState(null, "", `#run=${state.runId}&checkpoint=${checkpointId}`);
    try {
      const { data } = await call("GET", `checkpoints/${checkpointId}`);
      state.details = data;
      renderCheckpoint();
      if (focus) $("checkpoint-title").focus();
    } catch (e) {
      toast("Could not load the checkpoint", e.message, true);
    }
  }

  function renderCheckpoint() {
    const { checkpoint: c, artifacts, consumed } = state.details;
    const terminal = state.status && state.status.branches.some((b) => b.leaf && b.leaf.id === c.id && !b.canContinue && c.status !== "abandoned");
    const edited = artifacts.some((a) => a.version > 1);
    const continueButton = h("button", {
      type: "button", id: "continue", disabled: c.status === "abandoned" || terminal,
      title: edited ? "Edited: continuing forks a new branch" : "Continue on this branch",
      onclick: (e) => continueCheckpoint(e.currentTarget),
    }, edited ? "Continue on a new branch" : "Continue");
    const pins = (consumed || []).map((p) => `${p.key} v${p.version}`);
    fill($("checkpoint"), 
      h("div", { class: "cp-head" },
        h("div", {},
          h("h2", { id: "checkpoint-title", tabindex: "-1", text: `Phase ${c.phase} · ${c.branch} · v${c.version}` }),
          h("div", { class: "meta" }, pill(c.status), edited ? pill("edited", "edited") : null,
            h("span", { text: `cost ${money(c.cost)}` }), h("span", { text: `· ${when(c.createdAt)}` }), c.createdBy ? h("span", { text: `· by ${c.createdBy}` }) : null,
            c.editDescription ? h("span", { text: `· “${c.editDescription}”` }) : null)),
        h("div", { class: "cp-actions" }, continueButton)),
      pins.length ? h("p", { class: "consumed", text: "Built from " + pins.join(", ") }) : null,
      h("div", { class: "artifacts" + (artifacts.length === 1 && artifacts[0].content.json ? " wide" : "") }, artifacts.map(artifactCard)));
  }

  function artifactCard(a) {
    const blob = a.content.blob;
    const media = blob ? blob.mediaType : "application/json";
    const label = `${a.type}/${a.key}`;
    let preview;
    if (media.startsWith("image/")) preview = h("img", { src: a.contentUrl + `?v=${a.version}`, alt: `${label}, version ${a.version}${a.metadata.prompt ? ": " + a.metadata.prompt : ""}`, loading: "lazy" });
    else if (media.startsWith("video/")) preview = h("video", { src: a.contentUrl + `?v=${a.version}`, controls: true, preload: "metadata", "aria-label": `${label}, version ${a.version}` });
    else if (media.startsWith("audio/")) preview = h("audio", { src: a.contentUrl, controls: true, "aria-label": label });
    else if (a.content.json !== undefined && a.content.json !== null) preview = h("pre", { tabindex: "0", "aria-label": `${label} content`, text: JSON.stringify(a.content.json, null, 2) });
    else preview = h("a", { href: a.contentUrl, text: `Download ${media}` });
    const m = a.metadata || {};
    const actions = [h("button", { type: "button", class: "ghost small", onclick: () => showHistory(a), "aria-label": `History of ${label}` }, "History")];
    if (a.content.json !== undefined && a.content.json !== null) actions.push(h("button", { type: "button", class: "ghost small", "data-action": "edit", onclick: () => editJson(a), "aria-label": `Edit ${label}` }, "Edit"));
    if (a.unitIndex) actions.push(h("button", { type: "button", class: "ghost small", "data-action": "regenerate", "data-unit": a.unitIndex, onclick: () => regenerate(a), "aria-label": `Regenerate ${label}` }, "Regenerate"));
    if (a.unitIndex && media.startsWith("image/")) actions.push(h("button", { type: "button", class: "ghost small", "data-action": "upload", onclick: () => upload(a), "aria-label": `Upload a replacement for ${label}` }, "Upload"));
    return h("article", { class: "card", "data-artifact": label, "aria-label": label },
      h("div", { class: blob && /^(image|video)\//.test(media) ? "media checker" : "media" }, preview),
      h("div", { class: "info" },
        h("div", { class: "name" }, h("span", { text: label }), h("span", { class: "pill" + (a.version > 1 ? " edited" : ""), text: `v${a.version}` })),
        m.prompt ? h("div", { class: "prompt", title: m.prompt, text: m.prompt }) : null,
        h("div", { class: "facts" }, m.model ? h("span", { text: m.model }) : null, m.seed !== null && m.seed !== undefined ? h("span", { text: `seed ${m.seed}` }) : null,
          h("span", { text: money(m.cost) }), a.reason ? h("span", { text: a.reason }) : null)),
      h("div", { class: "actions" }, actions));
  }

  async function continueCheckpoint(button) {
    const c = state.details.checkpoint;
    const result = await guarded(button, "Continuing", () => call("POST", `checkpoints/${c.id}/continue`, { json: {} }));
    if (!result) return;
    const r = result.data;
    if (result.status === 202) {
      // Queued for a worker: the new checkpoint is opened when the stream says it was saved.
      state.awaiting = { parent: c.id, branch: r.branch, phase: r.nextPhase };
      toast("Queued", `Phase ${r.nextPhase} on ${r.branch} will run on a worker.`);
    }
    else toast(r.alreadyContinued ? "Already continued" : r.branchCreated ? `New branch ${r.branch}` : `Phase ${r.nextPhase} done`, r.branchCreated ? `Forked from ${c.branch}.` : `On ${r.branch}.`);
    await refreshRun();
    if (r.checkpoint) await selectCheckpoint(r.checkpoint.id, true);
  }

  // ---- dialogs ------------------------------------------------------------------------------------------------------

  function openDialog(title, body, buttons) {
    const dialog = $("dialog");
    $("dialog-title").textContent = title;
    fill($("dialog-body"), ...body);
    fill($("dialog-foot"), h("button", { type: "button", class: "ghost", onclick: () => dialog.close() }, buttons.length ? "Cancel" : "Close"), ...buttons);
    dialog.showModal();
    const first = $("dialog-body").querySelector("input, textarea, select, button");
    (first || $("dialog-close")).focus();
    return dialog;
  }

  // A JSON Merge Patch (RFC 7396) that turns `before` into `after`.
  function mergePatch(before, after) {
    if (typeof before !== "object" || before === null || Array.isArray(before) || typeof after !== "object" || after === null || Array.isArray(after)) return after;
    const patch = {};
    for (const key of Object.keys(before)) if (!(key in after)) patch[key] = null;
    for (const [key, value] of Object.entries(after)) {
      if (JSON.stringify(before[key]) === JSON.stringify(value)) continue;
      patch[key] = key in before ? mergePatch(before[key], value) : value;
    }
    return patch;
  }

  function editJson(a) {
    const area = h("textarea", { id: "edit-json", spellcheck: "false" });
    area.value = JSON.stringify(a.content.json, null, 2);
    const note = h("input", { id: "edit-note", placeholder: "e.g. shorter intro" });
    const save = h("button", { type: "button", id: "edit-save", onclick: async () => {
      let edited;
      try { edited = JSON.parse(area.value); } catch (e) { toast("Not valid JSON", e.message, true); area.focus(); return; }
      const patch = mergePatch(a.content.json, edited);
      const note2 = note.value.trim();
      const done = await guarded(save, "Saving", () => call("PATCH", `checkpoints/${a.checkpointId}/artifacts/${a.type}/${a.key}` + (note2 ? `?description=${encodeURIComponent(note2)}` : ""),
        { body: JSON.stringify(patch), ifMatch: a.eTag, headers: { "Content-Type": "application/merge-patch+json" } }));
      if (done) { $("dialog").close(); toast("Saved", `${a.type}/${a.key} is now v${done.data.artifact.version}.`); await afterEdit(); }
    } }, "Save as new version");
    openDialog(`Edit ${a.type}/${a.key} (v${a.version})`, [
      h("label", { for: "edit-json" }, "Content", h("span", { class: "hint", text: "Saved as a JSON Merge Patch against this version, then validated by the phase." })), area,
      h("label", { for: "edit-note" }, "Why (optional)"), note], [save]);
  }

  function regenerate(a) {
    const prompt = h("input", { id: "regen-prompt", value: a.metadata.prompt || "" });
    const model = h("input", { id: "regen-model", value: "", placeholder: a.metadata.model || "default" });
    const seed = h("input", { id: "regen-seed", type: "number", inputmode: "numeric", placeholder: "random" });
    const go = h("button", { type: "button", id: "regen-go", onclick: async () => {
      const body = {};
      if (prompt.value.trim() && prompt.value.trim() !== (a.metadata.prompt || "")) body.prompt = prompt.value.trim();
      if (model.value.trim()) body.model = model.value.trim();
      if (seed.value.trim()) body.seed = Number(seed.value);
      const done = await guarded(go, "Regenerating", () => call("POST", `checkpoints/${a.checkpointId}/units/${a.unitIndex}/regenerate`, { json: body, ifMatch: a.eTag }));
      if (done) { $("dialog").close(); toast("Regenerated", `${a.key} is now v${done.data.artifact.version} (${money(done.data.artifact.metadata.cost)}).`); await afterEdit(); }
    } }, "Regenerate");
    openDialog(`Regenerate unit ${a.unitIndex} (${a.key})`, [
      h("label", { for: "regen-prompt" }, "Prompt", h("span", { class: "hint", text: "Leave as is to use the planned prompt." })), prompt,
      h("div", { class: "row2" },
        h("label", { for: "regen-model" }, "Model override", model),
        h("label", { for: "regen-seed" }, "Seed", seed))], [go]);
  }

  function upload(a) {
    const file = h("input", { id: "upload-file", type: "file", accept: "image/png,image/jpeg,image/webp" });
    const go = h("button", { type: "button", id: "upload-go", onclick: async () => {
      if (!file.files.length) { toast("Choose a file first", "", true); file.focus(); return; }
      const form = new FormData();
      form.append("file", file.files[0]);
      const done = await guarded(go, "Uploading", () => call("PUT", `checkpoints/${a.checkpointId}/artifacts/${a.type}/${a.key}/content`, { body: form, ifMatch: a.eTag }));
      if (done) { $("dialog").close(); toast("Uploaded", `${a.key} is now v${done.data.artifact.version}.`); await afterEdit(); }
    } }, "Upload");
    openDialog(`Replace ${a.key}`, [h("label", { for: "upload-file" }, "Image", h("span", { class: "hint", text: "PNG, JPEG or WebP; the type is checked from the bytes." }), file)], [go]);
  }

  async function afterEdit() {
    await refreshRun();
    await selectCheckpoint(state.checkpointId, false);
  }

  async function showHistory(a) {
    let versions;
    try { versions = (await call("GET", `checkpoints/${a.checkpointId}/artifacts/${a.type}/${a.key}/versions`)).data; }
    catch (e) { toast("Could not read the history", e.message, true); return; }
    const options = (selected) => versions.map((v) => h("option", { value: v.version, selected: v.version === selected, text: `v${v.version} · ${when(v.createdAt)}` }));
    const left = h("select", { id: "compare-a" }, options(versions.length > 1 ? versions[versions.length - 2].version : versions[0].version));
    const right = h("select", { id: "compare-b" }, options(versions[versions.length - 1].version));
    const out = h("div", { id: "compare-out" });
    const table = h("table", {}, h("thead", {}, h("tr", {}, ["Version", "When", "Who", "Why", "Model", "Cost"].map((t) => h("th", { scope: "col", text: t })))),
      h("tbody", {}, versions.map((v) => h("tr", {},
        h("td", { text: `v${v.version}` }), h("td", { text: when(v.createdAt) }), h("td", { text: v.createdBy || "" }), h("td", { text: v.reason || "" }),
        h("td", { text: v.metadata.model || "" }), h("td", { text: money(v.metadata.cost) })))));
    const render = () => compare(versions.find((v) => v.version === Number(left.value)), versions.find((v) => v.version === Number(right.value)), out);
    left.addEventListener("change", render);
    right.addEventListener("change", render);
    openDialog(`History of ${a.type}/${a.key}`, [
      h("div", { class: "versions" }, table),
      h("div", { class: "compare-pick" }, h("label", { for: "compare-a" }, "Compare", left), h("label", { for: "compare-b" }, "with", right)),
      out], []);
    render();
  }

  async function compare(a, b, out) {
    const media = (v) => v.content.blob ? v.content.blob.mediaType : "application/json";
    if (media(a).startsWith("image/") || media(a).startsWith("video/")) {
      const view = (v) => media(v).startsWith("image/")
        ? h("img", { src: v.contentUrl, alt: `Version ${v.version}${v.metadata.prompt ? ": " + v.metadata.prompt : ""}` })
        : h("video", { src: v.contentUrl, controls: true, preload: "metadata", "aria-label": `Version ${v.version}` });
      fill(out, h("div", { class: "compare" }, [a, b].map((v) => h("figure", {}, h("figcaption", { text: `v${v.version}${v.metadata.prompt ? " · " + v.metadata.prompt : ""}` }), view(v)))));
      return;
    }
    const text = (v) => v.content.json !== undefined && v.content.json !== null ? JSON.stringify(v.content.json, null, 2) : "";
    fill(out, h("div", { class: "diff", role: "region", tabindex: "0", "aria-label": `Differences between v${a.version} and v${b.version}` },
      diffLines(text(a).split("\n"), text(b).split("\n")).map(([kind, line]) => h("div", { class: kind, text: line }))));
  }

  // Line diff by longest common subsequence: [["same"|"del"|"add", line], ...].
  function diffLines(x, y) {
    const n = x.length, m = y.length;
    const table = Array.from({ length: n + 1 }, () => new Uint16Array(m + 1));
    for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) table[i][j] = x[i] === y[j] ? table[i + 1][j + 1] + 1 : Math.max(table[i + 1][j], table[i][j + 1]);
    const out = [];
    let i = 0, j = 0;
    while (i < n && j < m) {
      if (x[i] === y[j]) { out.push(["same", x[i]]); i++; j++; }
      else if (table[i + 1][j] >= table[i][j + 1]) out.push(["del", x[i++]]);
      else out.push(["add", y[j++]]);
    }
    while (i < n) out.push(["del", x[i++]]);
    while (j < m) out.push(["add", y[j++]]);
    return out;
  }

  // ---- live progress ------------------------------------------------------------------------------------------------

  function openStream(runId) {
    if (state.source) state.source.close();
    const source = new EventSource(`${api}/runs/${runId}/events`, { withCredentials: true });
    state.source = source;
    source.addEventListener("open", () => setLive("on", "Live"));
    source.addEventListener("error", () => setLive("", "Reconnecting…"));
    const kinds = ["connected", "phase_started", "unit_completed", "checkpoint_created", "paused", "branch_created", "artifact_edited", "run_completed", "run_failed", "run_cancelled"];
    for (const kind of kinds) source.addEventListener(kind, (e) => onEvent(kind, JSON.parse(e.data)));
  }

  function onEvent(kind, e) {
    if (e.runId !== state.runId) return;
    const progress = $("progress"), label = $("progress-label"), bar = $("progress-bar");
    const set = (text, percent) => {
      progress.hidden = false;
      label.textContent = text;
      bar.setAttribute("aria-valuenow", String(Math.round(percent)));
      bar.firstElementChild.style.width = `${percent}%`;
    };
    switch (kind) {
      case "connected": setLive("on", "Live"); return;
      case "phase_started": set(`Phase ${e.phase} (${e.phaseName}) running on ${e.branch}…`, 3); break;
      case "unit_completed": set(`Phase ${e.phase}: ${e.completed} of ${e.total} units done (${money(e.cost)} for unit ${e.unitIndex})`, 100 * e.completed / e.total); break;
      case "checkpoint_created": set(`Checkpoint of phase ${e.phase} saved on ${e.branch} (${money(e.cost)})`, 100); break;
      case "paused": set(`Paused at phase ${e.phase}: ready for review`, 100); break;
      case "run_completed": set(`Run completed (${money(e.cost)} in total)`, 100); break;
      case "run_failed": set(`Phase ${e.phase} failed: ${e.error}`, 100); break;
      case "run_cancelled": set("Run cancelled", 100); break;
      default: break;
    }
    const awaited = state.awaiting;
    if (kind === "checkpoint_created" && awaited && e.branch === awaited.branch && e.phase === awaited.phase) {
      state.awaiting = null;
      clearTimeout(state.refreshTimer);
      refreshRun().then(() => selectCheckpoint(e.checkpointId, true)).catch(() => {});
      return;
    }
    clearTimeout(state.refreshTimer);
    state.refreshTimer = setTimeout(() => refreshRun().catch(() => {}), kind === "unit_completed" ? 600 : 150);
  }

  // ---- start --------------------------------------------------------------------------------------------------------

  $("refresh-runs").addEventListener("click", loadRuns);
  $("dialog-close").addEventListener("click", () => $("dialog").close());
  $("retry-run").addEventListener("click", (e) => guarded(e.currentTarget, "Retrying", () => call("POST", `runs/${state.runId}/retry`)).then(() => refreshRun()));
  $("cancel-run").addEventListener("click", (e) => {
    if (!confirm("Cancel this run? Running jobs are stopped.")) return;
    guarded(e.currentTarget, "Cancelling", () => call("POST", `runs/${state.runId}/cancel`)).then(() => refreshRun());
  });

  (async () => {
    await loadRuns();
    const hash = new URLSearchParams(location.hash.slice(1));
    const runId = hash.get("run") || (state.runs[0] && state.runs[0].id);
    if (runId) await selectRun(runId, hash.get("checkpoint"), false).catch((e) => toast("Could not open the run", e.message, true));
  })();
})();
