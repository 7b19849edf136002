// Gatehouse login mix (k6 ≥ v1): password logins, a share of them with TOTP
// as second factor (401 mfa_required → POST /v1/login/mfa), at a steady rate.
//
//   make k6-login-mix                       # against `make run`, with a report
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e RATE=5 loadtest/login-mix.js
//
// Knobs: RATE (logins/s, 4), DURATION (s, 30), MFA_SHARE (share of accounts
// with TOTP, 0.3), USERS (accounts; at least 31 × RATE + 1, so that no account
// logs in twice within one 30-second TOTP step: codes are single-use). Setup
// waits for the next TOTP step after the enrolments. Thresholds: login
// success ≥ 99 %, p95 of a whole login (both steps) ≤ 1.5 s.
import exec from "k6/execution";
import { sleep } from "k6";
import { Rate, Trend } from "k6/metrics";
import { BASE_URL, num, post, json, runId, signUp, totp } from "./lib.js";

const RATE = num("RATE", 4);
const DURATION = num("DURATION", 30);
const MFA_SHARE = num("MFA_SHARE", 0.3);
// Iteration i logs in user i % USERS: with USERS ≥ 31 s × RATE no account
// logs in twice within one 30-second TOTP step (a code is single-use).
const USERS = Math.max(num("USERS", 0), Math.ceil(31 * RATE) + 1);
const isMFA = (u) => (u * 0.6180339887) % 1 < MFA_SHARE;

const loginOK = new Rate("login_success");
const loginTime = new Trend("login_duration", true);

export const options = {
  setupTimeout: "15m",
  scenarios: {
    logins: {
      executor: "constant-arrival-rate", exec: "login", rate: RATE, timeUnit: "1s",
      duration: `${DURATION}s`, preAllocatedVUs: Math.max(4, 2 * RATE), maxVUs: 50 * RATE,
    },
  },
  thresholds: {
    login_success: ["rate>=0.99"],
    "login_duration{mfa:true}": ["p(95)<=1500"],
    "login_duration{mfa:false}": ["p(95)<=1500"],
  },
};

const password = (run, i) => `Mix-${run}-${i}-correct-horse`;
const email = (run, i) => `mix-${run}-${i}@load.example`;

export function setup() {
  const run = runId();
  const secrets = {};
  for (let u = 0; u < USERS; u++) {
    const e = email(run, u);
    const p = password(run, u);
    signUp(BASE_URL, e, p);
    if (!isMFA(u)) continue;
    const tok = json(post(`${BASE_URL}/v1/login`, { email: e, password: p })).access_token;
    const auth = { headers: { "Content-Type": "application/json", Authorization: `Bearer ${tok}` } };
    const secret = json(post(`${BASE_URL}/v1/mfa/totp`, {}, auth)).secret;
    const res = post(`${BASE_URL}/v1/mfa/totp/confirm`, { code: totp(secret) }, auth);
    if (res.status !== 204) throw new Error(`TOTP enrolment of ${e}: HTTP ${res.status} ${res.body}`);
    secrets[u] = secret;
  }
  // The enrolments used their step's codes: begin in the next step.
  sleep((30000 - (Date.now() % 30000)) / 1000 + 0.2);
  return { run, secrets };
}

export function login(data) {
  const u = exec.scenario.iterationInTest % USERS;
  const mfa = isMFA(u);
  const t0 = Date.now();
  const first = post(`${BASE_URL}/v1/login`, { email: email(data.run, u), password: password(data.run, u) });
  let ok = !mfa && first.status === 200;
  if (mfa) {
    const body = json(first);
    if (first.status === 401 && body.error === "mfa_required") {
      const res = post(`${BASE_URL}/v1/login/mfa`, { mfa_token: body.mfa_token, totp_code: totp(data.secrets[u]) });
      ok = res.status === 200;
    }
  }
  loginOK.add(ok, { mfa: String(mfa) });
  loginTime.add(Date.now() - t0, { mfa: String(mfa) });
}

export function handleSummary(data) {
  const out = { stdout: `login-mix: ${JSON.stringify(data.metrics.login_success ? data.metrics.login_success.values : {})}\n` };
  if (__ENV.SUMMARY_JSON) out[__ENV.SUMMARY_JSON] = JSON.stringify(data, null, 2);
  return out;
}
