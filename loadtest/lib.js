// Shared helpers of the k6 suites (imported as ./lib.js).
import http from "k6/http";
import crypto from "k6/crypto";

export const num = (name, def) => (__ENV[name] !== undefined && __ENV[name] !== "" ? Number(__ENV[name]) : def);
export const BASE_URL = (__ENV.BASE_URL || "http://127.0.0.1:8080").replace(/\/$/, "");

export function json(res) {
  try {
    return res.json() || {};
  } catch (e) {
    return {};
  }
}

export function post(url, body, params) {
  return http.post(url, JSON.stringify(body), Object.assign({ headers: { "Content-Type": "application/json" } }, params || {}));
}

// runId makes every run's accounts its own.
export function runId() {
  return `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}

// signUp creates an account, aborting the run on failure.
export function signUp(base, email, password, headers) {
  const res = post(`${base}/v1/users`, { email, password }, { headers: Object.assign({ "Content-Type": "application/json" }, headers || {}) });
  if (res.status !== 201) throw new Error(`sign-up of ${email}: HTTP ${res.status} ${res.body}`);
  return json(res);
}

const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

function base32Decode(s) {
  const clean = s.replace(/=+$/, "").toUpperCase();
  const out = [];
  let bits = 0;
  let value = 0;
  for (const ch of clean) {
    value = (value << 5) | B32.indexOf(ch);
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return new Uint8Array(out).buffer;
}

// totp is RFC 6238's code (SHA-1, 6 digits, 30 s) for a base32 secret.
export function totp(secret, atMs) {
  const counter = Math.floor((atMs || Date.now()) / 30000);
  const msg = new Uint8Array(8);
  let c = counter;
  for (let i = 7; i >= 0; i--) {
    msg[i] = c & 255;
    c = Math.floor(c / 256);
  }
  const mac = crypto.hmac("sha1", base32Decode(secret), msg.buffer, "hex");
  const bytes = [];
  for (let i = 0; i < mac.length; i += 2) bytes.push(parseInt(mac.slice(i, i + 2), 16));
  const off = bytes[19] & 15;
  const bin = ((bytes[off] & 127) << 24) | (bytes[off + 1] << 16) | (bytes[off + 2] << 8) | bytes[off + 3];
  return String(bin % 1000000).padStart(6, "0");
}
