// Gatehouse: real users behind one address (issue 19) for k6 ≥ v1 — the k6 twin of
// app/auth's TestTrustedUsersBehindOneAddressAllLogIn (and app/defense's
// TestTrustedDevicesBehindOneAddressAllGetIn), against a running server.
//
// USERS (2,000) users each log in once from an address of their own, which trusts their
// device. Then, for DURATION (60) s, they come back at RATE (20) logins/s from ONE address
// (SHARED_IP, a carrier-grade NAT), each with the device token of their first login, while
// GUESSES (500) wrong guesses over GUESSES other accounts come from that same address,
// spread over the same minute, without device tokens and without solving challenges.
// Client addresses travel in X-Forwarded-For, so the server must trust it from 127.0.0.1.
//
// Run against `make run`:
//
//   GATEHOUSE_TRUSTED_PROXIES=127.0.0.1/32 make run        # in one terminal
//   go install go.k6.io/k6@v1.8.1
//   k6 run -e BASE_URL=http://127.0.0.1:8080 loadtest/shared-address.js
//
// Every login checks an Argon2id hash, so the server must hash RATE passwords a second
// besides the guesses it lets through: with `make run`'s default parameters (64 MiB, t=3) a
// 2-core machine hashes ~14 a second. There, start the server with cheaper parameters
// (GATEHOUSE_ARGON2_MEMORY_KIB=19456 GATEHOUSE_ARGON2_ITERATIONS=2) or lower RATE. The
// setup (USERS + GUESSES sign-ups and USERS first logins, all hashed) paces itself on the
// server's 429 and 503 answers and their Retry-After. Other knobs (-e NAME=value):
// SHARED_IP (100.64.7.7), ADDRESS_PER_MINUTE (30: the server's
// GATEHOUSE_DEFENSE_ADDRESS_PER_MINUTE, which sets the guesses' budget below).
//
// Thresholds (k6 exits non-zero when one fails):
//   shared_login_success          rate ≥ 1   every returning user behind SHARED_IP logs in
//   guess_reached_hash            count ≤ 2 × ADDRESS_PER_MINUTE + ADDRESS_PER_MINUTE × minutes
//                                 (the address's unknown-device budget: burst + rate; an
//                                 answer 401 implies a password check)
//   guess_contained               rate ≥ 1   every guess answered 401 (checked, wrong), 403
//                                 challenge_required, 429 rate_limited or 503 overloaded
//   guess_takeovers               count < 1

import http from "k6/http";
import exec from "k6/execution";
import { sleep } from "k6";
import { Counter, Rate, Trend } from "k6/metrics";

const num = (name, def) => (__ENV[name] !== undefined && __ENV[name] !== "" ? Number(__ENV[name]) : def);

const BASE_URL = (__ENV.BASE_URL || "http://127.0.0.1:8080").replace(/\/$/, "");
const USERS = num("USERS", 2000);
const RATE = num("RATE", 20);
const DURATION = num("DURATION", 60);
const GUESSES = num("GUESSES", 500);
const SHARED_IP = __ENV.SHARED_IP || "100.64.7.7";
const ADDRESS_PER_MINUTE = num("ADDRESS_PER_MINUTE", 30);
const LOGINS = RATE * DURATION;
const GUESS_BUDGET = 2 * ADDRESS_PER_MINUTE + ADDRESS_PER_MINUTE * Math.ceil(DURATION / 60);

const sharedSuccess = new Rate("shared_login_success");
const sharedDuration = new Trend("shared_login_duration", true);
const sharedAnswers = new Counter("shared_login_answers");
const guessReachedHash = new Counter("guess_reached_hash");
const guessContained = new Rate("guess_contained");
const guessAnswers = new Counter("guess_answers");
const guessTakeovers = new Counter("guess_takeovers");

export const options = {
  setupTimeout: "60m",
  summaryTrendStats: ["avg", "med", "p(95)", "max", "count"],
  scenarios: {
    returning_users: {
      executor: "constant-arrival-rate", exec: "returning", rate: RATE, timeUnit: "1s", duration: `${DURATION}s`,
      preAllocatedVUs: Math.max(4, RATE), maxVUs: Math.max(20, 30 * RATE), gracefulStop: "30s",
    },
    guesses: {
      executor: "constant-arrival-rate", exec: "guess", rate: GUESSES, timeUnit: `${DURATION}s`, duration: `${DURATION}s`,
      preAllocatedVUs: 4, maxVUs: 200, gracefulStop: "30s",
    },
  },
  thresholds: {
    shared_login_success: ["rate>=1"],
    guess_reached_hash: [`count<=${GUESS_BUDGET}`],
    guess_contained: ["rate>=1"],
    guess_takeovers: ["count<1"],
    "dropped_iterations{scenario:returning_users}": ["count<1"],
    // Listed so that the summary has them.
    shared_login_duration: ["p(95)>=0"],
  },
};

function userEmail(run, i) { return `cgnat-${run}-${i}@bench.example`; }
function userPassword(run, i) { return `Returning-${run}-${i}-correct-horse`; }
function victimEmail(run, j) { return `victim-${run}-${j}@bench.example`; }
function victimPassword(run, j) { return `Victim-${run}-${j}-battery-staple`; }
// homeIP is user i's own address (a /24 each), where its device was first trusted.
function homeIP(i) { return `172.${16 + ((i >> 16) & 15)}.${(i >> 8) & 255}.${i & 255}`; }

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

// paced posts until the server stops answering 429 or 503, waiting its Retry-After.
function paced(path, body, ip, want) {
  for (let round = 0; round < 120; round++) {
    const res = http.post(`${BASE_URL}${path}`, JSON.stringify(body), params(ip, [want, 429, 503]));
    if (res.status !== 429 && res.status !== 503) return res;
    sleep(Math.min(10, Number(res.headers["Retry-After"]) || 1));
  }
  exec.test.abort(`${path} for ${body.email}: still refused after 120 tries`);
  return null;
}

export function setup() {
  const run = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  for (let k = 0; k < USERS + GUESSES; k++) {
    const c = k < USERS ? { email: userEmail(run, k), password: userPassword(run, k) } : { email: victimEmail(run, k - USERS), password: victimPassword(run, k - USERS) };
    const res = paced("/v1/users", c, `198.18.${(k >> 8) & 255}.${k & 255}`, 201);
    if (res.status !== 201) exec.test.abort(`sign-up of ${c.email}: HTTP ${res.status} ${res.body}`);
  }
  // Each user's first login, from its own address, trusts its device.
  const devices = [];
  for (let i = 0; i < USERS; i++) {
    const res = paced("/v1/login", { email: userEmail(run, i), password: userPassword(run, i) }, homeIP(i), 200);
    const tok = parse(res).device_token || "";
    if (res.status !== 200 || tok === "") exec.test.abort(`first login of ${userEmail(run, i)}: HTTP ${res.status} ${res.body}`);
    devices.push(tok);
  }
  console.log(`shared-address: ${USERS} users with a trusted device return from ${SHARED_IP} at ${RATE}/s for ${DURATION}s ` +
    `(${LOGINS} logins); ${GUESSES} guesses over ${GUESSES} other accounts from there too; guess budget ${GUESS_BUDGET}`);
  return { run, devices };
}

// returning logs the next user in from the shared address with its device token; the
// logins of the minute are spread over all the users.
export function returning(data) {
  const i = Math.floor((exec.scenario.iterationInTest * USERS) / LOGINS) % USERS;
  const body = { email: userEmail(data.run, i), password: userPassword(data.run, i), device_token: data.devices[i] };
  const t0 = Date.now();
  const res = http.post(`${BASE_URL}/v1/login`, JSON.stringify(body), params(SHARED_IP, [200]));
  const ok = res.status === 200;
  sharedSuccess.add(ok);
  sharedDuration.add(Date.now() - t0);
  sharedAnswers.add(1, { status: String(res.status), error: ok ? "" : String(parse(res).error || "") });
}

// guess tries a wrong password on the next other account from the shared address.
export function guess(data) {
  const j = exec.scenario.iterationInTest % GUESSES;
  const res = http.post(`${BASE_URL}/v1/login`, JSON.stringify({ email: victimEmail(data.run, j), password: `wrong guess ${j}` }),
    params(SHARED_IP, [401, 403, 429, 503]));
  const code = String(parse(res).error || "");
  guessAnswers.add(1, { status: String(res.status), error: code });
  if (res.status === 401) guessReachedHash.add(1);
  if (res.status === 200) guessTakeovers.add(1);
  guessContained.add(res.status === 401 || (res.status === 403 && code === "challenge_required") ||
    (res.status === 429 && code === "rate_limited") || (res.status === 503 && code === "overloaded"));
}

export function handleSummary(data) {
  const m = (name, stat) => (data.metrics[name] && data.metrics[name].values ? data.metrics[name].values[stat] : NaN);
  const success = m("shared_login_success", "rate");
  const reached = m("guess_reached_hash", "count") || 0;
  const contained = m("guess_contained", "rate");
  const verdict = (ok) => (ok ? "PASS" : "FAIL");
  const lines = [
    `# shared-address (k6): ${USERS} users return from ${SHARED_IP} at ${RATE}/s for ${DURATION}s; ${GUESSES} guesses from there`,
    `# returning logins ok: ${success} ${verdict(success >= 1)} (all); p95 ${m("shared_login_duration", "p(95)")} ms`,
    `# guesses reaching the password check: ${reached} ${verdict(reached <= GUESS_BUDGET)} (≤ ${GUESS_BUDGET}); contained ${contained} ${verdict(contained >= 1)}; ` +
      `takeovers ${m("guess_takeovers", "count") || 0}`,
  ];
  const out = { stdout: lines.join("\n") + "\n" };
  if (__ENV.SUMMARY_JSON) out[__ENV.SUMMARY_JSON] = JSON.stringify(data, null, 2);
  return out;
}
