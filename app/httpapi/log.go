package httpapi

import (
	"log/slog"
	"net/http"
	"time"
)

func slogStr(k, v string) slog.Attr               { return slog.String(k, v) }
func slogInt(k string, v int) slog.Attr           { return slog.Int(k, v) }
func slogDur(k string, v time.Duration) slog.Attr { return slog.Duration(k, v) }

// levelFor logs server errors as errors, the rest as info. A 503 is load
// shed on purpose (a full hashing queue, a full login lane, a region that
// cannot be reached): counted by gatehouse_http_request_duration_seconds
// and logged at info, so that a flood does not become a flood of error
// lines.
func levelFor(status int) slog.Level {
	if status >= 500 && status != http.StatusServiceUnavailable {
		return slog.LevelError
	}
	return slog.LevelInfo
}
