// Package router sends a request that reached the wrong region to the
// user's home region, and authenticates such requests on arrival.
//
// A login or refresh for a user homed in region B that arrives in region A
// is forwarded once, over the internal network, to B's internal_url
// (Forwarder.Forward): one round trip instead of several database round
// trips to B's leaseholders. The forwarded request carries a
// Gatehouse-Forwarded header: an HMAC-SHA256, under a secret all regions
// share (with a key id, so it can rotate), over the method, the path and
// query, the body's SHA-256, the Content-Type and Authorization headers,
// the entry region, the target region, the client's address, a timestamp
// and a nonce. B believes the client address only when Verifier.Check
// accepts the header; a request whose header is present but refused is
// never served (the caller answers 401 invalid_forwarding), so no client
// can pick the region that serves it. With a ReplayStore, the nonces are
// shared by every instance of the region (Redis), and a store that fails
// refuses the request rather than accepting it unchecked.
//
// When B does not answer in time, or its circuit breaker is open, Forward
// reports that A must serve the request itself against the database
// (failover). An answer from B, a 5xx included, is passed through.
//
// The package works on plain net/http values; it knows no HTTP framework.
package router
