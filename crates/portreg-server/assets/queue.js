"use strict";
// The assignment queue. The session is an HttpOnly cookie the script never sees; what it
// holds is the CSRF token, sent with every change as X-CSRF-Token.
const $ = (selector, root = document) => root.querySelector(selector);
const escape = (text) => String(text ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
let session = null;
// The queue is shown a page at a time: the ids after which each page shown so far starts.
const PAGE_SIZE = 25;
let queuePages = [0];

async function call(method, url, body) {
  const headers = {"Accept": "application/json"};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (session && method !== "GET") headers["X-CSRF-Token"] = session.csrf;
  const response = await fetch(url, {method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body)});
  const answer = await response.json().catch(() => null);
  return {ok: response.ok, status: response.status, body: answer};
}
const problem = (answer) => (answer.body && answer.body.detail) || ("HTTP " + answer.status);

// Everything one identity saw or typed: gone when another signs in, or nobody.
function clearPage() {
  for (const form of document.querySelectorAll("form")) form.reset();
  for (const body of document.querySelectorAll("#mine tbody, #queue tbody, #history tbody")) body.innerHTML = "";
  for (const status of document.querySelectorAll("#file-result, #queue-result, #queue-page")) status.textContent = "";
  $("#history table").hidden = true;
  $("#queue-older").hidden = $("#queue-newer").hidden = true;
  queuePages = [0];
}

function signedIn(who) {
  if (!who || !session || who.name !== session.name) clearPage();
  session = who;
  $("#who").textContent = who ? `Signed in as ${who.name} (${who.role}).` : "";
  $("#sign-in").hidden = !!who;
  $("#signed-in").hidden = !who;
  $("#queue").hidden = !who || who.role === "requester";
  for (const field of document.querySelectorAll("input[name=csrf]")) field.value = who ? who.csrf : "";
  if (who) refresh();
}

async function refresh() {
  const mine = await call("GET", "/v1/requests");
  if (mine.ok) {
    $("#mine tbody").innerHTML = mine.body.filter((r) => r.requester === session.name).map((r) => `
      <tr data-id="${r.id}" data-version="${r.version}"><td>${r.id}</td><td class="state">${escape(r.state)}</td><td class="name">${escape(r.name)}</td>
        <td>${escape(r.port ?? "-")}</td><td>${escape(r.transports.join(","))}</td><td>${escape(r.reason || "")}</td>
        <td>${["pending", "changes-requested"].includes(r.state) ? `<button type="button" class="withdraw">Withdraw</button>` : ""}</td></tr>`).join("");
  }
  if (session.role === "requester") return;
  const after = queuePages[queuePages.length - 1];
  // One more than a page: whether there is a next page.
  const pending = await call("GET", `/v1/requests?state=pending&after=${after}&limit=${PAGE_SIZE + 1}`);
  if (!pending.ok) return;
  const rows = pending.body.slice(0, PAGE_SIZE);
  $("#queue-older").hidden = pending.body.length <= PAGE_SIZE;
  $("#queue-newer").hidden = queuePages.length === 1;
  $("#queue-page").textContent = rows.length ? `Requests ${rows[0].id} to ${rows[rows.length - 1].id}` : "No request is pending.";
  $("#queue-older").dataset.after = rows.length ? rows[rows.length - 1].id : after;
  $("#queue tbody").innerHTML = rows.map((r) => `
    <tr data-id="${r.id}" data-version="${r.version}"><td>${r.id}</td><td>${escape(r.requester)}</td><td class="name">${escape(r.name)}</td>
      <td>${escape(r.port ?? "-")}</td><td>${escape(r.transports.join(","))}</td><td>${escape(r.description)}</td>
      <td>${escape(r.assignee)} / ${escape(r.contact)}</td>
      <td><form class="review row"><input type="hidden" name="csrf" value="${escape(session.csrf)}">
        <input name="comment" placeholder="comment" size="16">
        <button name="decision" value="approve">Approve</button><button name="decision" value="deny">Deny</button>
        <button name="decision" value="changes">Ask for changes</button></form></td></tr>`).join("");
}

$("#sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const answer = await call("POST", "/v1/session", {token: $("#token").value.trim()});
  $("#token").value = "";
  if (answer.ok) signedIn(answer.body); else $("#who").textContent = problem(answer);
});
$("#sign-out").addEventListener("click", async () => {
  await call("DELETE", "/v1/session");
  signedIn(null);
});
$("#request-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const request = {name: form.get("name").trim(), transport: form.get("transport"), description: form.get("description"),
                   assignee: form.get("assignee"), contact: form.get("contact")};
  const port = form.get("port").trim();
  if (form.get("any_port")) request.any_port = true; else if (port) request.port = /^\d+$/.test(port) ? Number(port) : port;
  if (form.get("reference").trim()) request.reference = form.get("reference").trim();
  if (form.get("procedure")) request.procedure = form.get("procedure");
  const answer = await call("POST", "/v1/requests", request);
  $("#file-result").textContent = answer.ok
    ? `Request ${answer.body.id} filed: ${answer.body.name}, ${answer.body.state}.`
    : problem(answer);
  if (answer.ok) { event.target.reset(); signedIn(session); }
});
$("#queue tbody").addEventListener("submit", (event) => event.preventDefault());
$("#queue tbody").addEventListener("click", async (event) => {
  const button = event.target.closest("button[name=decision]");
  if (!button) return;
  event.preventDefault();
  const row = button.closest("tr");
  const comment = $("input[name=comment]", row).value;
  const answer = await call("POST", `/v1/requests/${row.dataset.id}/review`, {decision: button.value, comment: comment || null, version: Number(row.dataset.version)});
  $("#queue-result").textContent = answer.ok ? `Request ${answer.body.id}: ${answer.body.state}.` : problem(answer);
  refresh();
});
$("#queue-older").addEventListener("click", () => { queuePages.push(Number($("#queue-older").dataset.after)); refresh(); });
$("#queue-newer").addEventListener("click", () => { if (queuePages.length > 1) queuePages.pop(); refresh(); });
$("#mine tbody").addEventListener("click", async (event) => {
  if (!event.target.matches("button.withdraw")) return;
  const id = event.target.closest("tr").dataset.id;
  const answer = await call("POST", `/v1/requests/${id}/withdraw`);
  if (!answer.ok) $("#file-result").textContent = problem(answer);
  refresh();
});
$("#history-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const subject = new FormData(event.target).get("subject").trim();
  const answer = await call("GET", "/v1/history?subject=" + encodeURIComponent(subject));
  const table = $("#history table");
  table.hidden = !answer.ok;
  if (answer.ok) {
    $("tbody", table).innerHTML = answer.body.map((e) => `<tr><td>${escape(e.at)}</td><td>${escape(e.actor)}</td><td>${escape(e.action)}</td>
      <td>${escape(e.subject)}</td><td>${escape(e.outcome)}</td><td>${escape(e.detail)}</td></tr>`).join("");
  }
});
call("GET", "/v1/session").then((answer) => signedIn(answer.ok ? answer.body : null));
