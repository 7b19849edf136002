// Gatehouse credential-stuffing burst (contract §7) for k6 ≥ v1 — the k6 twin of the
// stuffing phase of `make bench` (loadtest/bench/stuffing.go).
//
// Legitimate users (correct password, the device token of their first login, one fixed
// address each) log in at a steady rate, first alone (the baseline), then while an attack
// replays a leaked list — VALID_SHARE (1.5%) valid pairs, KNOWN_SHARE (15%) of emails with
// an account here, the rest unknown — from ATTACK_ADDRESSES (20,000) addresses, about
// ATTEMPTS_PER_ADDRESS (2) attempts each, at RATE_MULTIPLE (20) × the host's Argon2id
// capacity. Client addresses travel in X-Forwarded-For, so the server must trust it from
// 127.0.0.1.
//
// Run against `make run` (the server hashes with its configured Argon2id parameters):
//
//   GATEHOUSE_TRUSTED_PROXIES=127.0.0.1/32 make run        # in one terminal
//   go install go.k6.io/k6@v1.8.1
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e ARGON2_CAPACITY=<hashes/s> loadtest/stuffing.js
//
// ARGON2_CAPACITY is the server's Argon2id hashes/s on this host: `argon2_raw_per_s` of
// `make bench` when it ran with the same parameters as `make run` (default 64 MiB, t=3),
// or read `# stuffing: argon2id capacity` of its stuffing phase for m=19456 t=2. Other knobs
// (-e NAME=value): LEGIT_USERS (50), LEGIT_RATE (logins/s; 0.15 × capacity), BASELINE (s,
// 15), ATTACK_DURATION (s; addresses × attempts per address / attack rate), RATE_MULTIPLE,
// ATTACK_ADDRESSES, ATTEMPTS_PER_ADDRESS, VALID_SHARE, KNOWN_SHARE, VICTIMS (200),
// SOLVE_SHARE (share of challenged attack requests that solve the proof of work; 0),
// MAX_VUS (2000), BASELINE_P95_MS (see below).
//
// Thresholds (k6 exits non-zero when one fails):
//   legit_login_success{phase:attack}  rate ≥ 0.99   (stuffing_legit_success_ratio)
//   attack_reached_hash                rate ≤ 0.05   (stuffing_attack_hash_ratio, client side:
//                                      answers 200 or 401, the ones that imply a hash)
//   dropped_iterations                 < 1% of the attack (else the attack rate was not reached)
// stuffing_legit_p95_ratio (goal ≤ 1.5) divides two measurements of the same run, which a k6
// threshold cannot express: the summary prints it with PASS/FAIL; give BASELINE_P95_MS (a
// baseline p95 measured earlier) to also fail the run on p95 > 1.5 × it. The summary also
// prints the server-side hash ratio from GET /metrics (gatehouse_password_hash_seconds_count
// at the attack's start and end, less the legit logins' hashes). Failed legit logins count as
// 30 s in the p95s.

import http from "k6/http";
import crypto from "k6/crypto";
import exec from "k6/execution";
import { sleep } from "k6";
import { Counter, Gauge, Rate, Trend } from "k6/metrics";

const num = (name, def) => (__ENV[name] !== undefined && __ENV[name] !== "" ? Number(__ENV[name]) : def);

const BASE_URL = (__ENV.BASE_URL || "http://127.0.0.1:8080").replace(/\/$/, "");
const CAPACITY = num("ARGON2_CAPACITY", 50);
const RATE_MULTIPLE = num("RATE_MULTIPLE", 20);
const ATTACK_RATE = Math.max(1, Math.round(CAPACITY * RATE_MULTIPLE));
const ADDRESSES = num("ATTACK_ADDRESSES", 20000);
const ATTEMPTS_PER_ADDRESS = num("ATTEMPTS_PER_ADDRESS", 2);
const ATTACK_DURATION = num("ATTACK_DURATION", Math.max(5, Math.ceil((ADDRESSES * ATTEMPTS_PER_ADDRESS) / ATTACK_RATE)));
const VALID_SHARE = num("VALID_SHARE", 0.015);
const KNOWN_SHARE = num("KNOWN_SHARE", 0.15);
const VICTIMS = num("VICTIMS", 200);
const SOLVE_SHARE = num("SOLVE_SHARE", 0);
const LEGIT_USERS = num("LEGIT_USERS", 50);
const LEGIT_RATE = Math.max(1, Math.round(num("LEGIT_RATE", 0.15 * CAPACITY)));
const BASELINE = num("BASELINE", 15);
const GAP = 3; // s between the baseline and the attack: in-flight logins drain, /metrics is read
const MAX_VUS = num("MAX_VUS", 2000);
const BASELINE_P95_MS = num("BASELINE_P95_MS", 0);
const FAILED_LOGIN_MS = 30000;
const ATTACK_START = BASELINE + GAP;
const ATTACK_TOTAL = ATTACK_RATE * ATTACK_DURATION;

const legitDuration = new Trend("legit_login_duration", true);
const legitSuccess = new Rate("legit_login_success");
const legitHashes = new Counter("legit_hashes");
const legitSolved = new Counter("legit_challenges_solved");
const attackReachedHash = new Rate("attack_reached_hash");
const attackTakeovers = new Counter("attack_takeovers");
const attackSolved = new Counter("attack_challenges_solved");
const attackAnswers = new Counter("attack_answers");
const hashesAtAttackStart = new Gauge("server_hashes_at_attack_start");
const hashesAtEnd = new Gauge("server_hashes_at_end");

export const options = {
  setupTimeout: "15m",
  teardownTimeout: "1m",
  summaryTrendStats: ["avg", "med", "p(95)", "max", "count"],
  scenarios: {
    legit_baseline: {
      executor: "constant-arrival-rate", exec: "legit", rate: LEGIT_RATE, timeUnit: "1s",
      duration: `${BASELINE}s`, preAllocatedVUs: Math.max(4, LEGIT_RATE), maxVUs: Math.max(20, 35 * LEGIT_RATE),
      gracefulStop: "30s", tags: { phase: "baseline" },
    },
    scrape_before_attack: {
      executor: "shared-iterations", exec: "scrapeBefore", vus: 1, iterations: 1,
      startTime: `${BASELINE + GAP - 1}s`, maxDuration: "10s", tags: { phase: "scrape" },
    },
    legit_attack: {
      executor: "constant-arrival-rate", exec: "legit", rate: LEGIT_RATE, timeUnit: "1s",
      startTime: `${ATTACK_START}s`, duration: `${ATTACK_DURATION}s`,
      preAllocatedVUs: Math.max(4, LEGIT_RATE), maxVUs: Math.max(20, 35 * LEGIT_RATE),
      gracefulStop: "30s", tags: { phase: "attack" },
    },
    attack: {
      executor: "constant-arrival-rate", exec: "attack", rate: ATTACK_RATE, timeUnit: "1s",
      startTime: `${ATTACK_START}s`, duration: `${ATTACK_DURATION}s`,
      preAllocatedVUs: Math.min(MAX_VUS, Math.max(50, Math.ceil(ATTACK_RATE / 5))), maxVUs: MAX_VUS,
      gracefulStop: "30s", tags: { phase: "attacker" },
    },
  },
  thresholds: {
    "legit_login_success{phase:attack}": ["rate>=0.99"],
    attack_reached_hash: ["rate<=0.05"],
    "dropped_iterations{scenario:attack}": [`count<${Math.max(1, Math.ceil(ATTACK_TOTAL * 0.01))}`],
    // Listed so that the summary has them (and, with BASELINE_P95_MS, a real limit).
    "legit_login_duration{phase:baseline}": ["p(95)>=0"],
    "legit_login_duration{phase:attack}": [BASELINE_P95_MS > 0 ? `p(95)<=${1.5 * BASELINE_P95_MS}` : "p(95)>=0"],
    "legit_hashes{phase:attack}": ["count>=0"],
    "legit_login_success{phase:baseline}": ["rate>=0"],
    "http_reqs{scenario:attack}": ["count>=0"],
    // A legit arrival without a free VU would vanish from the success ratio: there are enough
    // VUs for 30 s logins, and any drop fails the run.
    "dropped_iterations{scenario:legit_attack}": ["count<1"],
  },
};

// mix32 is a 32-bit integer hash (murmur3's finaliser): the leaked list and the addresses
// are derived from the iteration number, so no VU holds the whole list.
function mix32(x) {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

function hex32(x) {
  return (x >>> 0).toString(16).padStart(8, "0");
}

function seedOf(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function legitEmail(run, i) { return `legit-${run}-${i}@bench.example`; }
function legitPassword(run, i) { return `Legit-${run}-${hex32(mix32(seedOf(run) ^ (i * 2 + 1)))}`; }
function legitIP(i) { return `172.${16 + ((i >> 16) & 15)}.${(i >> 8) & 255}.${i & 255}`; }
function victimEmail(run, j) { return `victim-${run}-${j}@bench.example`; }
function victimPassword(run, j) { return `Victim-${run}-${hex32(mix32(seedOf(run) ^ (j * 2 + 2)))}`; }

// attackAddress is the k-th of ADDRESSES distinct addresses: three quarters in 10.0.0.0/8
// (k × an odd constant mod 2^24: distinct, spread over the /24s), a quarter in
// 2001:db8::/32 (random /56s, k in the interface id).
function attackAddress(k) {
  if (k % 4 === 3) {
    const h = mix32(k ^ 0x5bd1e995);
    return `2001:db8:${(h >>> 16).toString(16)}:${(h & 0xffff).toString(16)}::${(k >>> 16).toString(16)}:${(k & 0xffff).toString(16)}`;
  }
  const a = Math.imul(k, 0x9e3779b1) & 0xffffff;
  return `10.${a >>> 16}.${(a >>> 8) & 255}.${a & 255}`;
}

// leakedPair is the i-th line of the attacker's list.
function leakedPair(run, i) {
  const u = mix32(i ^ seedOf(run)) / 4294967296;
  const pick = mix32(i * 3 + 7);
  if (u < VALID_SHARE) {
    const j = pick % VICTIMS;
    return { email: victimEmail(run, j), password: victimPassword(run, j), valid: true };
  }
  const wrong = `leaked-${hex32(mix32(i * 5 + 11))}`;
  if (u < KNOWN_SHARE) {
    const email = pick % 4 === 0 ? legitEmail(run, pick % LEGIT_USERS) : victimEmail(run, pick % VICTIMS);
    return { email, password: wrong, valid: false };
  }
  return { email: `leak-${run}-${i}@mail.example`, password: wrong, valid: false };
}

function leadingZeroBits(hex) {
  let n = 0;
  for (let i = 0; i < hex.length; i += 8) {
    const w = parseInt(hex.slice(i, i + 8), 16);
    if (w !== 0) return n + Math.clz32(w);
    n += 32;
  }
  return n;
}

// solve answers a proof-of-work challenge: SHA-256(token || nonce) with `difficulty`
// leading zero bits, the nonce in decimal (as app/defense/pow.js).
function solve(ch) {
  if (!ch || ch.type !== "pow" || ch.difficulty > 26) return null;
  for (let n = 0; n < 1 << 28; n++) {
    if (leadingZeroBits(crypto.sha256(ch.token + n, "hex")) >= ch.difficulty) {
      return { token: ch.token, nonce: String(n) };
    }
  }
  return null;
}

function params(ip, expected) {
  return {
    headers: { "Content-Type": "application/json", "X-Forwarded-For": ip },
    responseCallback: http.expectedStatuses(...expected),
    timeout: "30s",
    tags: { name: "POST /v1/login" },
  };
}

function parse(res) {
  try {
    return res.json() || {};
  } catch (e) {
    return {};
  }
}

// login posts one login, solving up to two challenges when solveIt says so; it returns the
// last answer, the requests sent and how many answers implied a hash (200, 401).
function login(body, ip, expected, solveIt, onSolved) {
  let hashes = 0;
  let requests = 0;
  let res;
  for (let round = 0; round < 3; round++) {
    requests++;
    res = http.post(`${BASE_URL}/v1/login`, JSON.stringify(body), params(ip, expected));
    if (res.status === 200 || res.status === 401) hashes++;
    const j = res.status === 403 ? parse(res) : {};
    if (j.error !== "challenge_required" || !solveIt || round === 2) break;
    const sol = solve(j.challenge);
    if (!sol) break;
    onSolved();
    body = Object.assign({}, body, { challenge_solution: sol });
  }
  return { res, hashes, requests };
}

function serverHashCount() {
  const res = http.get(`${BASE_URL}/metrics`, { tags: { name: "GET /metrics" } });
  const m = /^gatehouse_password_hash_seconds_count\s+(\S+)/m.exec(res.body || "");
  return m ? Number(m[1]) : NaN;
}

export function setup() {
  const run = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  const signups = [];
  for (let i = 0; i < LEGIT_USERS; i++) signups.push({ email: legitEmail(run, i), password: legitPassword(run, i) });
  for (let j = 0; j < VICTIMS; j++) signups.push({ email: victimEmail(run, j), password: victimPassword(run, j) });
  // Sign-up hashes a password, so it passes the same address and global
  // limits as a login: a refused one (429, or 503 when the hashing queue is
  // full) is retried after its Retry-After.
  let pending = signups.map((c, n) => ({ c, n, tries: 0 }));
  while (pending.length > 0) {
    const batch = pending.slice(0, 8);
    const answers = http.batch(batch.map(({ c, n }) => ({
      method: "POST", url: `${BASE_URL}/v1/users`, body: JSON.stringify(c),
      params: { headers: { "Content-Type": "application/json", "X-Forwarded-For": `198.18.${(n >> 8) & 255}.${n & 255}` }, timeout: "60s" },
    })));
    const retry = [];
    let wait = 0;
    answers.forEach((r, k) => {
      if (r.status === 201) return;
      const p = batch[k];
      if ((r.status === 429 || r.status === 503) && ++p.tries < 30) {
        retry.push(p);
        wait = Math.max(wait, Number(r.headers["Retry-After"]) || 1);
        return;
      }
      exec.test.abort(`sign-up of ${p.c.email}: HTTP ${r.status} ${r.body}`);
    });
    pending = retry.concat(pending.slice(batch.length));
    if (retry.length > 0) sleep(Math.min(wait, 5));
  }
  // Warm-up: each legit user's first login from its address trusts its device.
  const devices = [];
  for (let i = 0; i < LEGIT_USERS; i++) {
    let { res } = login({ email: legitEmail(run, i), password: legitPassword(run, i) }, legitIP(i), [200, 403, 429, 503], true, () => {});
    for (let tries = 1; (res.status === 429 || res.status === 503) && tries < 30; tries++) {
      sleep(Math.min(Number(res.headers["Retry-After"]) || 1, 5)); // the sign-ups above drew on the same global limit
      ({ res } = login({ email: legitEmail(run, i), password: legitPassword(run, i) }, legitIP(i), [200, 403, 429, 503], true, () => {}));
    }
    if (res.status !== 200) exec.test.abort(`warm-up login of ${legitEmail(run, i)}: HTTP ${res.status} ${res.body}`);
    devices.push(parse(res).device_token || "");
  }
  const withDevice = devices.filter((d) => d !== "").length;
  console.log(`stuffing: ${LEGIT_USERS} legit users (${withDevice} with a device token), ${VICTIMS} victims; legit ${LEGIT_RATE}/s; ` +
    `attack ${ATTACK_RATE}/s (${RATE_MULTIPLE} × ${CAPACITY} hashes/s) for ${ATTACK_DURATION}s = ${ATTACK_TOTAL} attempts over ` +
    `${ADDRESSES} addresses (${(ATTACK_TOTAL / ADDRESSES).toFixed(2)} per address), ${VALID_SHARE * 100}% valid`);
  return { run, devices };
}

export function legit(data) {
  const i = exec.scenario.iterationInTest % LEGIT_USERS;
  const phase = exec.scenario.name === "legit_attack" ? "attack" : "baseline";
  const body = { email: legitEmail(data.run, i), password: legitPassword(data.run, i) };
  if (data.devices[i]) body.device_token = data.devices[i];
  const t0 = Date.now();
  const { res, hashes } = login(body, legitIP(i), [200, 403], true, () => legitSolved.add(1, { phase }));
  const ok = res.status === 200;
  legitSuccess.add(ok, { phase });
  legitDuration.add(ok ? Date.now() - t0 : FAILED_LOGIN_MS, { phase });
  legitHashes.add(hashes, { phase });
}

export function scrapeBefore() {
  hashesAtAttackStart.add(serverHashCount());
}

export function attack(data) {
  const i = exec.scenario.iterationInTest;
  const p = leakedPair(data.run, i);
  const ip = attackAddress(i % ADDRESSES);
  const solveIt = SOLVE_SHARE > 0 && mix32(i ^ 0x9747b28c) / 4294967296 < SOLVE_SHARE;
  const { res, hashes, requests } = login({ email: p.email, password: p.password }, ip, [200, 401, 403, 423, 429, 503], solveIt, () => attackSolved.add(1));
  // One sample per HTTP request (a solved challenge adds one): did its answer imply a hash?
  for (let r = 0; r < requests; r++) attackReachedHash.add(r < hashes);
  attackAnswers.add(1, { status: String(res.status), valid: String(p.valid) });
  if (res.status === 200) attackTakeovers.add(1);
}

export function teardown() {
  sleep(1);
  hashesAtEnd.add(serverHashCount());
}

export function handleSummary(data) {
  const m = (name, stat) => (data.metrics[name] && data.metrics[name].values ? data.metrics[name].values[stat] : NaN);
  const p95Base = m("legit_login_duration{phase:baseline}", "p(95)");
  const p95Attack = m("legit_login_duration{phase:attack}", "p(95)");
  const success = m("legit_login_success{phase:attack}", "rate");
  const clientHashRatio = m("attack_reached_hash", "rate");
  const attackRequests = m("http_reqs{scenario:attack}", "count");
  const serverDelta = m("server_hashes_at_end", "value") - m("server_hashes_at_attack_start", "value");
  const legitDuring = m("legit_hashes{phase:attack}", "count") || 0;
  const serverHashRatio = (serverDelta - legitDuring) / attackRequests;
  const p95Ratio = p95Attack / p95Base;
  const verdict = (ok) => (ok ? "PASS" : "FAIL");
  const lines = [
    `# stuffing (k6): attack ${ATTACK_RATE} req/s = ${RATE_MULTIPLE} × ARGON2_CAPACITY ${CAPACITY}, ${ATTACK_DURATION}s, ${ADDRESSES} addresses, ` +
      `${ATTEMPTS_PER_ADDRESS} planned attempts each, ${VALID_SHARE * 100}% valid pairs; legit ${LEGIT_USERS} users at ${LEGIT_RATE}/s`,
    `# legit p95 baseline ${p95Base} ms, during the attack ${p95Attack} ms; server hashes over the attack ${serverDelta} ` +
      `(less ${legitDuring} legit) over ${attackRequests} attack requests; attack takeovers ${m("attack_takeovers", "count") || 0}, ` +
      `dropped attack iterations ${m("dropped_iterations", "count") || 0}`,
    `BENCH stuffing_legit_success_ratio ${success} ratio  # ${verdict(success >= 0.99)} (≥ 0.99)`,
    `BENCH stuffing_legit_p95_ratio ${p95Ratio} ratio  # ${verdict(p95Ratio <= 1.5)} (≤ 1.5)`,
    `BENCH stuffing_attack_hash_ratio ${serverHashRatio} ratio  # ${verdict(serverHashRatio <= 0.05)} (≤ 0.05; client-side estimate ${clientHashRatio})`,
  ];
  const out = { stdout: lines.join("\n") + "\n" };
  if (__ENV.SUMMARY_JSON) out[__ENV.SUMMARY_JSON] = JSON.stringify(data, null, 2);
  return out;
}
