"use strict";
const $ = (selector) => document.querySelector(selector);
const escape = (text) => String(text ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
const ports = (r) => r.port_low === null ? "-" : (r.port_low === r.port_high ? String(r.port_low) : r.port_low + "-" + r.port_high);

// `?as_of=2016-06-01` in the page's address: every answer as the registry was published
// then (the history's snapshot, named by the server's X-Portreg-As-Of header).
const asOf = new URLSearchParams(location.search).get("as_of") || "";
const dated = (url) => asOf ? url + (url.includes("?") ? "&" : "?") + "as_of=" + encodeURIComponent(asOf) : url;

async function getJson(url) {
  const response = await fetch(url, {headers: {"Accept": "application/json"}});
  const body = await response.json().catch(() => null);
  const snapshot = response.headers.get("X-Portreg-As-Of");
  if (snapshot) $("#as-of").textContent = "As published on " + snapshot + ".";
  return {ok: response.ok, status: response.status, body};
}

let generation = 0;
async function lookup(text) {
  const mine = ++generation;
  text = text.trim();
  const results = $("#results"), status = $("#status");
  if (!text) { results.hidden = true; status.textContent = ""; return; }
  const isPorts = /^\d+(-\d+)?(\/(tcp|udp|sctp|dccp))?$/i.test(text);
  let url;
  if (isPorts) {
    const [spec, transport] = text.split("/");
    url = "/v1/ports/" + encodeURIComponent(spec) + (transport ? "?transport=" + transport : "");
  } else {
    url = "/v1/search?limit=50&q=" + encodeURIComponent(text);
  }
  const answer = await getJson(dated(url));
  if (mine !== generation) return;
  if (!answer.ok) {
    results.hidden = true;
    const detail = answer.body && answer.body.detail ? answer.body.detail : "Nothing found.";
    const suggestions = (answer.body && answer.body.suggestions) || [];
    status.innerHTML = escape(detail) + (suggestions.length
      ? " Did you mean " + suggestions.map((n) => `<a href="?q=${encodeURIComponent(n)}" class="suggestion">${escape(n)}</a>`).join(" or ") + "?"
      : "");
    return;
  }
  const rows = answer.body.map((r) => {
    const query = r.port_low === null ? r.name : (r.port_low + (r.transport ? "/" + r.transport : ""));
    const quiet = ["reserved", "unassigned", "historic", "deassigned"].includes(r.status);
    const name = escape(r.name || "-");
    return `<tr class="hit" tabindex="0" data-query="${escape(query)}">
      <td>${escape(ports(r))}</td><td>${escape(r.transport || "any")}</td>
      <td class="${quiet ? "dim" : "name"}"><a href="${detailAddress(query)}" class="record">${name}</a>${r.aliases.length ? " (" + escape(r.aliases.join(", ")) + ")" : ""}</td>
      <td class="${quiet ? "dim" : ""}">${escape(r.role === "alias" ? "alias" : r.status)}</td>
      <td>${escape(r.description)}${r.unauthorized_use ? ` <span class="warn">[unauthorized use: ${escape(r.unauthorized_use)}]</span>` : ""}</td></tr>`;
  });
  $("#results tbody").innerHTML = rows.join("");
  results.hidden = false;
  status.textContent = answer.body.length + (answer.body.length === 1 ? " record" : " records");
}

// A record's detail has an address of its own (`/?q=ssh&detail=22/tcp`), so that it can
// be shared; opening it is a step in the browser's history, so Back returns to the list.
function detailAddress(query) {
  const search = new URLSearchParams(location.search);
  search.set("detail", query);
  return "?" + search.toString();
}

function openDetail(query) {
  history.pushState({detail: query}, "", detailAddress(query));
  showDetail(query);
}

async function showDetail(query) {
  const detail = $("#detail");
  const answer = await getJson(dated("/v1/info/" + encodeURIComponent(query)));
  if (!answer.ok) { detail.hidden = false; detail.textContent = answer.body ? answer.body.detail : "Nothing found."; return; }
  const field = (label, value) => value && value.length ? `<dt>${label}</dt><dd>${escape(Array.isArray(value) ? value.join("\n") : value)}</dd>` : "";
  const records = answer.body.records.map((r) => `
    <h2><span class="name">${escape(r.name || "(no name)")}</span> ${escape(ports(r))}${r.transport ? "/" + escape(r.transport) : ""}
      <span class="dim">${escape(r.status)}, ${escape(r.role)}</span></h2>
    <dl>
      ${field("Description", r.description)}
      ${field("Aliases", r.aliases.join(", "))}
      ${field("Assignee", r.people.assignees)}
      ${field("Contact", r.people.contacts)}
      ${field("Registered", r.registered)}
      ${field("Modified", r.modified)}
      ${r.links.length ? `<dt>References</dt><dd>${r.links.map((l) => /^https?:/.test(l) ? `<a href="${escape(l)}">${escape(l)}</a>` : escape(l)).join("<br>")}</dd>` : ""}
      ${field("Service code", r.service_code)}
      ${r.unauthorized_use ? `<dt>Unauthorized use</dt><dd class="warn">${escape(r.unauthorized_use)}</dd>` : ""}
      ${field("Notes", r.notes)}
    </dl>`);
  const facts = answer.body.ports.map((p) => `
    <h2>Port ${p.port}</h2>
    <dl>
      <dt>Range</dt><dd>${escape(p.range_class)}: assigned by ${escape(p.procedure)}</dd>
      <dt>Reserved</dt><dd>${p.reserved ? "yes, by RFC 6335" : "no"}</dd>
      <dt>Privileged here</dt><dd>${p.privileged === null ? "unknown" : (p.privileged ? "yes: binding it needs privileges on this server" : "no")}</dd>
      <dt>Ephemeral here</dt><dd>${p.ephemeral === null ? "unknown" : (p.ephemeral ? "yes: in this server's ephemeral range" : "no")}</dd>
    </dl>`);
  detail.innerHTML = records.join("") + `<div id="timeline"></div>` + facts.join("");
  detail.hidden = false;
  detail.scrollIntoView({block: "nearest"});
  showTimeline(query, answer.body.records);
}

// Under a record's detail, its timeline across the history's snapshots: when it was
// added, what changed (old and new values), when it was removed.
async function showTimeline(query, records) {
  const answer = await getJson("/v1/history/" + encodeURIComponent(query));
  const place = $("#timeline");
  if (!place || !answer.ok) return;
  const shown = new Set(records.map((r) => (r.name || "").toLowerCase() + "/" + (r.transport || "")));
  const entries = answer.body.records.filter((e) => {
    const last = e.versions[e.versions.length - 1].record;
    return shown.has((last.name || "").toLowerCase() + "/" + (last.transport || ""));
  });
  if (!entries.length) return;
  const when = (e) => e.after ? `${escape(e.after)} – ${escape(e.by || "")}` : `by ${escape(e.by || "")}`;
  const value = (v) => escape(v === null ? "-" : (typeof v === "string" ? v : JSON.stringify(v)));
  const rows = entries.flatMap((entry) => entry.events.map((e) => ({e, r: e.record})))
    .sort((a, b) => String(a.e.by || "9999").localeCompare(String(b.e.by || "9999")))
    .map(({e, r}) => `<tr><td>${when(e)}</td><td>${escape(e.change)}</td>
      <td>${escape(r.name || "-")} ${escape(ports(r))}${r.transport ? "/" + escape(r.transport) : ""}</td>
      <td>${e.fields ? e.fields.map((f) => `${escape(f.field)}: ${value(f.old)} → ${value(f.new)}`).join("<br>") : escape(e.change === "added" ? [
        e.renamed_from ? "renamed from " + e.renamed_from : "",
        ...e.links.map((l) => l.relation.replace("_", " ") + " " + l.name),
        r.description || ""].filter(Boolean).join("; ") : "")}</td></tr>`);
  const held = answer.body.snapshots;
  place.innerHTML = `<h2>History</h2>
    <p class="dim">As ${held.count} snapshots of the registry show it (${escape(held.first && held.first.date)} to ${escape(held.last && held.last.date)}); a change is dated by the snapshots around it.</p>
    <table class="timeline"><thead><tr><th>Published</th><th>Change</th><th>Record</th><th>What</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

// The address follows what is typed (`/?q=ssh`), so that a result can be shared, and a
// shared address opens with its search done.
function follow(text) {
  const query = text.trim();
  history.replaceState(null, "", query ? "?q=" + encodeURIComponent(query) : location.pathname);
  $("#detail").hidden = true;
}

let timer;
$("#q").addEventListener("input", (event) => {
  clearTimeout(timer);
  timer = setTimeout(() => { follow(event.target.value); lookup(event.target.value); }, 120);
});
$("#results tbody").addEventListener("click", (event) => {
  const row = event.target.closest("tr.hit");
  if (!row) return;
  // A name is a link (open it in a new tab as any link); a plain click stays on the page.
  if (event.target.closest("a.record") && (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0)) return;
  event.preventDefault();
  openDetail(row.dataset.query);
});
$("#results tbody").addEventListener("keydown", (event) => {
  const row = event.target.closest("tr.hit");
  if (row && event.key === "Enter") { event.preventDefault(); openDetail(row.dataset.query); }
});
$("#status").addEventListener("click", (event) => {
  const link = event.target.closest("a.suggestion");
  if (!link) return;
  event.preventDefault();
  const name = link.textContent;
  $("#q").value = name;
  follow(name);
  lookup(name);
});
// Back and Forward: the list, or a record's detail, as the address says.
window.addEventListener("popstate", () => {
  const search = new URLSearchParams(location.search);
  const detail = search.get("detail");
  if (detail) showDetail(detail); else $("#detail").hidden = true;
  const text = search.get("q") || "";
  if (text !== $("#q").value) { $("#q").value = text; lookup(text); }
});
$("#free-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const transports = form.getAll("transport").join(",");
  const range = form.get("custom").trim() || form.get("range");
  const url = `/v1/free?transport=${encodeURIComponent(transports)}&range=${encodeURIComponent(range)}&count=${encodeURIComponent(form.get("count") || "10")}`;
  const answer = await getJson(url);
  const out = $("#free-result");
  if (!answer.ok) { out.textContent = answer.body ? answer.body.detail : "Failed."; return; }
  out.textContent = answer.body.length
    ? "Free on " + transports + ": " + answer.body.map((s) => s.port_low === s.port_high ? s.port_low : s.port_low + "-" + s.port_high).join(", ")
    : "No free port there.";
});
// A server that runs an authority has the assignment queue (asked, not probed: a probe's
// 404 would be an error in the console).
getJson("/v1/registry").then((answer) => {
  if (!answer.ok) return;
  $("#registry").textContent = `Registry of ${answer.body.updated || "unknown date"}, ${answer.body.records} records (${answer.body.registry}).`;
  $("#queue-link").hidden = !answer.body.authority;
});

const fromHash = () => { try { return decodeURIComponent(location.hash.slice(1)); } catch { return ""; } };
const linked = new URLSearchParams(location.search).get("q") || fromHash();
if (linked) {
  $("#q").value = linked;
  lookup(linked);
}
const linkedDetail = new URLSearchParams(location.search).get("detail");
if (linkedDetail) showDetail(linkedDetail);
