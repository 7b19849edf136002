// Gatehouse multi-region mix (k6 ≥ v1) against `make run-regions` (us-east1
// :8080, europe-west1 :8081, asia-south1 :8082, 70 ms one way between them):
// users homed in each region (sign-up with a country hint) log in through a
// random region; a login entering outside the home region is forwarded there.
//
//   make k6-multi-region                 # starts `make run-regions` itself
//   k6 run -e BASE_URLS=http://127.0.0.1:8080,http://127.0.0.1:8081,http://127.0.0.1:8082 loadtest/multi-region.js
//
// Knobs: BASE_URLS, RATE (logins/s, 3), DURATION (s, 30), USERS (per region,
// 10), COUNTRIES (home country hint per region, "US,DE,IN": see
// GATEHOUSE_RESIDENCY_RULES). Thresholds: success ≥ 99 %; p95 of forwarded
// logins ≤ 1.5 s; every answer names the region that executed it.
import http from "k6/http";
import { Rate, Trend, Counter } from "k6/metrics";
import { num, json, runId } from "./lib.js";

const URLS = (__ENV.BASE_URLS || "http://127.0.0.1:8080,http://127.0.0.1:8081,http://127.0.0.1:8082").split(",").map((u) => u.replace(/\/$/, ""));
const COUNTRIES = (__ENV.COUNTRIES || "US,DE,IN").split(",");
const RATE = num("RATE", 3);
const DURATION = num("DURATION", 30);
const USERS = num("USERS", 10);

const success = new Rate("login_success");
const forwardedTime = new Trend("forwarded_login_duration", true);
const localTime = new Trend("local_login_duration", true);
const regionNamed = new Rate("region_header_present");
const forwards = new Counter("forwarded_logins");

export const options = {
  setupTimeout: "10m",
  scenarios: {
    mix: {
      executor: "constant-arrival-rate", exec: "mix", rate: RATE, timeUnit: "1s",
      duration: `${DURATION}s`, preAllocatedVUs: Math.max(4, 2 * RATE), maxVUs: 50 * RATE,
    },
  },
  thresholds: {
    login_success: ["rate>=0.99"],
    forwarded_login_duration: ["p(95)<=1500"],
    region_header_present: ["rate>=1"],
  },
};

const password = (run, r, i) => `Region-${run}-${r}-${i}-correct-horse`;
const email = (run, r, i) => `region-${r}-${run}-${i}@load.example`;
const jsonParams = (extra) => ({ headers: Object.assign({ "Content-Type": "application/json" }, extra || {}) });

export function setup() {
  const run = runId();
  const homes = [];
  for (let r = 0; r < URLS.length; r++) {
    for (let i = 0; i < USERS; i++) {
      const res = http.post(`${URLS[r]}/v1/users`, JSON.stringify({ email: email(run, r, i), password: password(run, r, i) }),
        jsonParams({ "X-Gatehouse-Country": COUNTRIES[r % COUNTRIES.length] }));
      if (res.status !== 201) throw new Error(`sign-up in ${URLS[r]}: HTTP ${res.status} ${res.body}`);
      homes.push({ r, i, home: json(res).home_region });
    }
  }
  return { run, homes };
}

export function mix(data) {
  const u = data.homes[Math.floor(Math.random() * data.homes.length)];
  const entry = URLS[Math.floor(Math.random() * URLS.length)];
  const res = http.post(`${entry}/v1/login`, JSON.stringify({ email: email(data.run, u.r, u.i), password: password(data.run, u.r, u.i) }), jsonParams());
  success.add(res.status === 200);
  const executed = res.headers["Gatehouse-Region"];
  regionNamed.add(!!executed);
  const forwarded = !!res.headers["Gatehouse-Entry-Region"];
  if (forwarded) {
    forwards.add(1);
    forwardedTime.add(res.timings.duration);
  } else {
    localTime.add(res.timings.duration);
  }
}

export function handleSummary(data) {
  const out = { stdout: `multi-region: ${JSON.stringify(data.metrics.login_success ? data.metrics.login_success.values : {})}\n` };
  if (__ENV.SUMMARY_JSON) out[__ENV.SUMMARY_JSON] = JSON.stringify(data, null, 2);
  return out;
}
