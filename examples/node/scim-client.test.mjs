// scimlab as the SCIM target of a Node test, with built-ins only (node:test, fetch).
// Run: SCIMLAB_BIN=path/to/scimlab node --test examples/node/scim-client.test.mjs (Node 18 or later)
import { test, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";

const here = path.dirname(fileURLToPath(import.meta.url));
const seed = path.join(here, "..", "seed.json");
const TOKEN = "node-token";
const ADMIN = "node-admin";
let server, base, admin, work;

async function call(method, url, token, body) {
  const res = await fetch(url, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { "Content-Type": "application/scim+json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

before(async () => {
  work = mkdtempSync(path.join(tmpdir(), "scimlab-"));
  const readyFile = path.join(work, "ready.json");
  server = spawn(process.env.SCIMLAB_BIN || "scimlab",
    ["serve", "--addr", "127.0.0.1:0", "--in-memory", "--token", TOKEN, "--admin-token", ADMIN,
      "--seed", seed, "--ready-file", readyFile],
    { stdio: ["ignore", "pipe", "ignore"] });
  const lines = createInterface({ input: server.stdout });
  const ready = JSON.parse(await new Promise((resolve) => lines.once("line", resolve)));
  assert.equal(ready.event, "ready");
  // The ready file is written before the line is printed, for harnesses without a pipe.
  assert.deepEqual(JSON.parse(readFileSync(readyFile, "utf8")), ready);
  base = ready.url;
  admin = ready.admin;
});

after(() => {
  server.kill();
  rmSync(work, { recursive: true, force: true });
});

beforeEach(async () => {
  const res = await call("POST", `${admin}/reset?seed=true`, ADMIN);
  assert.equal(res.status, 200);
});

test("a client creates a user, adds it to the seeded group, and the PATCH is recorded", async () => {
  const created = await call("POST", `${base}/Users`, TOKEN, {
    schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: "grace@example.com",
  });
  assert.equal(created.status, 201);
  const patched = await call("PATCH", `${base}/Groups/g-eng`, TOKEN, {
    schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    Operations: [{ op: "add", path: "members", value: [{ value: created.body.id }] }],
  });
  assert.equal(patched.status, 200);
  assert.deepEqual(patched.body.members.map((m) => m.value).sort(), [created.body.id, "u-ada"].sort());
  const seen = await call("GET", `${admin}/requests?method=PATCH&path=/Groups&wait=5s`, ADMIN);
  assert.equal(seen.body.requests.length, 1);
});

test("reset leaves only the seed", async () => {
  const listed = await call("GET", `${base}/Users?count=0`, TOKEN);
  assert.equal(listed.body.totalResults, 1);
});
