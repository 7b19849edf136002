// Gatehouse refresh storm (k6 ≥ v1): every VU holds one session and rotates
// its refresh token back to back (POST /oauth2/token grant_type=refresh_token),
// as a fleet of apps waking up at once would.
//
//   make k6-refresh-storm
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e VUS=32 loadtest/refresh-storm.js
//
// Knobs: VUS (32), DURATION (s, 20). Each VU logs in once (one Argon2id hash)
// and then only refreshes. Thresholds: ≥ 99.9 % of rotations succeed (a reuse
// would revoke the family: it must never happen), p95 ≤ 250 ms.
import http from "k6/http";
import exec from "k6/execution";
import { Rate, Trend } from "k6/metrics";
import { BASE_URL, num, post, json, runId, signUp } from "./lib.js";

const VUS = num("VUS", 32);
const DURATION = num("DURATION", 20);

const rotated = new Rate("refresh_rotated");
const rotateTime = new Trend("refresh_duration", true);

export const options = {
  setupTimeout: "10m",
  scenarios: {
    storm: { executor: "constant-vus", exec: "storm", vus: VUS, duration: `${DURATION}s` },
  },
  thresholds: {
    refresh_rotated: ["rate>=0.999"],
    refresh_duration: ["p(95)<=250"],
  },
};

const password = (run, i) => `Storm-${run}-${i}-correct-horse`;
const email = (run, i) => `storm-${run}-${i}@load.example`;

export function setup() {
  const run = runId();
  for (let i = 0; i < VUS; i++) signUp(BASE_URL, email(run, i), password(run, i));
  return { run };
}

let refreshToken = "";

export function storm(data) {
  if (!refreshToken) {
    const i = (exec.vu.idInTest - 1) % VUS;
    const res = post(`${BASE_URL}/v1/login`, { email: email(data.run, i), password: password(data.run, i) });
    refreshToken = json(res).refresh_token || "";
    if (!refreshToken) throw new Error(`login for the storm: HTTP ${res.status}`);
  }
  const res = http.post(`${BASE_URL}/oauth2/token`, { grant_type: "refresh_token", refresh_token: refreshToken },
    { tags: { name: "POST /oauth2/token" } });
  const ok = res.status === 200 && json(res).refresh_token;
  rotated.add(!!ok);
  rotateTime.add(res.timings.duration);
  if (ok) refreshToken = json(res).refresh_token;
  else refreshToken = ""; // log in again
}

export function handleSummary(data) {
  const out = { stdout: `refresh-storm: ${JSON.stringify(data.metrics.refresh_rotated ? data.metrics.refresh_rotated.values : {})}\n` };
  if (__ENV.SUMMARY_JSON) out[__ENV.SUMMARY_JSON] = JSON.stringify(data, null, 2);
  return out;
}
