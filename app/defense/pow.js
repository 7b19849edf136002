// Gatehouse proof-of-work solver for browsers: plain JavaScript, no
// dependencies, uses crypto.subtle (secure contexts only, i.e. HTTPS).
//
// When POST /v1/login answers 403 {"error":"challenge_required","challenge":{...}}
// with challenge.type === "pow", find a nonce such that
// SHA-256(token || nonce) starts with `difficulty` zero bits, then repeat
// the login with the solution:
//
//   const res = await fetch("/v1/login", {method: "POST", body: JSON.stringify(body)});
//   if (res.status === 403) {
//     const err = await res.json();
//     if (err.error === "challenge_required" && err.challenge.type === "pow") {
//       const ctl = new AbortController();            // optional: ctl.abort() to give up
//       body.challenge_solution = await solveGatehouseChallenge(err.challenge, {signal: ctl.signal});
//       // body.challenge_solution is {"token": "...", "nonce": "..."}; POST again.
//     }
//   }
//
// A challenge is single-use and expires at challenge.expires_at; expect about
// 2^difficulty hashes (difficulty 16 ≈ 65,000). Run it in a Web Worker to
// keep the page responsive at high difficulties.

"use strict";

async function solveGatehouseChallenge(challenge, options) {
  if (!challenge || challenge.type !== "pow" || typeof challenge.token !== "string") {
    throw new Error("gatehouse: not a proof-of-work challenge");
  }
  const difficulty = challenge.difficulty | 0;
  if (difficulty < 0 || difficulty > 32) {
    throw new Error("gatehouse: difficulty out of range");
  }
  const signal = options && options.signal;
  const prefix = new TextEncoder().encode(challenge.token);
  const batch = 512; // digests in flight at once: crypto.subtle is asynchronous
  for (let base = 0; base < Number.MAX_SAFE_INTEGER; base += batch) {
    if (signal && signal.aborted) {
      throw new Error("gatehouse: solving aborted");
    }
    const nonces = [];
    const jobs = [];
    for (let i = 0; i < batch; i++) {
      const nonce = String(base + i);
      const input = new Uint8Array(prefix.length + nonce.length);
      input.set(prefix);
      for (let j = 0; j < nonce.length; j++) {
        input[prefix.length + j] = nonce.charCodeAt(j);
      }
      nonces.push(nonce);
      jobs.push(crypto.subtle.digest("SHA-256", input));
    }
    const digests = await Promise.all(jobs);
    for (let i = 0; i < batch; i++) {
      if (gatehouseLeadingZeroBits(new Uint8Array(digests[i])) >= difficulty) {
        return { token: challenge.token, nonce: nonces[i] };
      }
    }
  }
  throw new Error("gatehouse: no nonce found");
}

function gatehouseLeadingZeroBits(bytes) {
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 0) {
      return n + Math.clz32(bytes[i]) - 24;
    }
    n += 8;
  }
  return n;
}

if (typeof module !== "undefined" && module.exports) {
  module.exports = { solveGatehouseChallenge, gatehouseLeadingZeroBits };
}
