package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"time"
)

// The refresh and introspection figures measure thousands of requests a
// second on the same two cores as the server. net/http's client spends
// about 140 µs of CPU on each (a goroutine pair per connection, header maps,
// a context per request), CPU the server under test then does not get.
// rawConn speaks just enough HTTP/1.1 for those loads: one keep-alive
// connection per worker, a request written in one call, the answer read
// with one buffered reader. The server sees ordinary requests.

// rawConn is one keep-alive HTTP/1.1 connection of one load worker. It is
// not safe for concurrent use.
type rawConn struct {
	addr, host string // dial address and Host header
	conn       net.Conn
	r          *bufio.Reader
	req, body  []byte // reused buffers
}

// rawConns returns n unconnected rawConns to c's server; each connects on
// first use.
func (c *apiClient) rawConns(n int) ([]*rawConn, error) { return newRawConns(c.base, n) }

// closeRawConns closes every connection of conns.
func closeRawConns(conns []*rawConn) {
	for _, c := range conns {
		c.close()
	}
}

// newRawConns returns n unconnected rawConns to the server at base
// (http://host:port); each connects on first use.
func newRawConns(base string, n int) ([]*rawConn, error) {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("raw HTTP client: want http://host:port, have %q", base)
	}
	conns := make([]*rawConn, n)
	for i := range conns {
		conns[i] = &rawConn{addr: u.Host, host: u.Host}
	}
	return conns, nil
}

// close closes the connection, if one is open.
func (c *rawConn) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn, c.r = nil, nil
	}
}

// post sends a POST of body to path and returns the answer's status and
// body. The body is valid until the next call. A broken connection is
// closed (the next call dials again) and reported as an error; the request
// is not resent, since it may have taken effect.
func (c *rawConn) post(ctx context.Context, path, contentType, bearer string, body []byte) (int, []byte, error) {
	if c.conn == nil {
		conn, err := (&net.Dialer{Timeout: requestTimeout}).DialContext(ctx, "tcp", c.addr)
		if err != nil {
			return 0, nil, err
		}
		c.conn, c.r = conn, bufio.NewReaderSize(conn, 8<<10)
	}
	stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := c.conn.SetDeadline(time.Now().Add(requestTimeout)); err != nil {
		c.close()
		return 0, nil, err
	}
	c.req = appendRequest(c.req[:0], c.host, path, contentType, bearer, body)
	if _, err := c.conn.Write(c.req); err != nil {
		c.close()
		return 0, nil, fmt.Errorf("POST %s: %w", path, err)
	}
	status, respBody, keepAlive, err := readResponse(c.r, c.body[:0])
	if err != nil {
		c.close()
		return 0, nil, fmt.Errorf("POST %s: %w", path, err)
	}
	c.body = respBody
	if !keepAlive {
		c.close()
	}
	return status, respBody, nil
}

// appendRequest appends an HTTP/1.1 POST request to dst.
func appendRequest(dst []byte, host, path, contentType, bearer string, body []byte) []byte {
	dst = append(dst, "POST "...)
	dst = append(dst, path...)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, host...)
	dst = append(dst, "\r\nUser-Agent: gatehouse-bench\r\nContent-Type: "...)
	dst = append(dst, contentType...)
	if bearer != "" {
		dst = append(dst, "\r\nAuthorization: Bearer "...)
		dst = append(dst, bearer...)
	}
	dst = append(dst, "\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\r\n\r\n"...)
	return append(dst, body...)
}

// errBadResponse is an answer rawConn cannot read.
var errBadResponse = errors.New("malformed HTTP response")

// readResponse reads one HTTP/1.x response from r, appending its body to
// body. It understands Content-Length and chunked bodies; keepAlive is
// false when the server will close the connection (Connection: close,
// HTTP/1.0, or a body delimited by the close).
func readResponse(r *bufio.Reader, body []byte) (status int, out []byte, keepAlive bool, err error) {
	line, err := readLine(r)
	if err != nil {
		return 0, nil, false, err
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return 0, nil, false, fmt.Errorf("%w: status line %q", errBadResponse, truncateBytes(line, 40))
	}
	http11 := line[7] == '1'
	keepAlive = http11
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil || status < 100 {
		return 0, nil, false, fmt.Errorf("%w: status line %q", errBadResponse, truncateBytes(line, 40))
	}
	length, chunked := int64(-1), false
	for {
		line, err := readLine(r)
		if err != nil {
			return 0, nil, false, err
		}
		if len(line) == 0 {
			break
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return 0, nil, false, fmt.Errorf("%w: header line %q", errBadResponse, truncateBytes(line, 40))
		}
		name, value := line[:colon], bytes.TrimSpace(line[colon+1:])
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 || (length >= 0 && n != length) {
				return 0, nil, false, fmt.Errorf("%w: Content-Length %q", errBadResponse, truncateBytes(value, 40))
			}
			length = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")) && http11: // HTTP/1.0 has no chunking
			if !bytes.EqualFold(value, []byte("chunked")) {
				return 0, nil, false, fmt.Errorf("%w: Transfer-Encoding %q", errBadResponse, truncateBytes(value, 40))
			}
			chunked = true
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(value, []byte("close")) {
				keepAlive = false
			}
		}
	}
	switch {
	case status == 204 || status == 304 || status < 200:
		return status, body, keepAlive, nil
	case chunked:
		body, err = readChunked(r, body)
		return status, body, keepAlive, err
	case length >= 0:
		if length > maxResponseBytes {
			return 0, nil, false, fmt.Errorf("%w: a %d-byte body", errBadResponse, length)
		}
		start := len(body)
		body = append(body, make([]byte, length)...)
		_, err = io.ReadFull(r, body[start:])
		return status, body, keepAlive, err
	}
	// Delimited by the close of the connection.
	body, err = appendAll(r, body)
	return status, body, false, err
}

// readChunked reads a chunked body (RFC 9112 §7.1), ignoring extensions
// and trailers.
func readChunked(r *bufio.Reader, body []byte) ([]byte, error) {
	for {
		line, err := readLine(r)
		if err != nil {
			return nil, err
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || size < 0 || int64(len(body))+size > maxResponseBytes {
			return nil, fmt.Errorf("%w: chunk size %q", errBadResponse, truncateBytes(line, 40))
		}
		if size == 0 {
			for { // trailers, up to the blank line
				line, err := readLine(r)
				if err != nil {
					return nil, err
				}
				if len(line) == 0 {
					return body, nil
				}
			}
		}
		start := len(body)
		body = append(body, make([]byte, size)...)
		if _, err := io.ReadFull(r, body[start:]); err != nil {
			return nil, err
		}
		if end, err := readLine(r); err != nil || len(end) != 0 {
			return nil, fmt.Errorf("%w: no CRLF after a chunk", errBadResponse)
		}
	}
}

// appendAll reads r to its end, at most maxResponseBytes.
func appendAll(r io.Reader, body []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Write(body)
	n, err := buf.ReadFrom(io.LimitReader(r, maxResponseBytes+1))
	if err == nil && n > maxResponseBytes {
		err = fmt.Errorf("%w: a body over %d bytes", errBadResponse, maxResponseBytes)
	}
	return buf.Bytes(), err
}

// maxLineBytes bounds a status, header or chunk-size line.
const maxLineBytes = 8 << 10

// readLine reads one CRLF- (or LF-) terminated line without its end. The
// slice is valid until the next read.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) || len(line) > maxLineBytes {
		return nil, fmt.Errorf("%w: a line over %d bytes", errBadResponse, r.Size())
	}
	if err != nil {
		if errors.Is(err, io.EOF) && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// truncateBytes returns at most n bytes of b, for error messages.
func truncateBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
