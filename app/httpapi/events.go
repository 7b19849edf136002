package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/app/errs"
	"github.com/gatehouse-id/gatehouse/app/events"
)

// AuditTrail reads the audit trail (app/store).
type AuditTrail interface {
	// UserEvents lists a user's events before a time, newest first.
	UserEvents(ctx context.Context, userID uuid.UUID, before time.Time, limit int) ([]events.Record, error)
}

// registerEvents adds GET /v1/me/events (a user's own history) and GET
// /admin/v1/users/:id/events (support and incident response).
func (a *API) registerEvents(e *echo.Echo, user func(echo.HandlerFunc) echo.HandlerFunc) {
	if a.Audit == nil {
		return
	}
	e.GET("/v1/me/events", user(func(c echo.Context) error { return a.listEvents(c, principal(c).UserID) }))
	e.GET("/admin/v1/users/:id/events", a.admin(func(c echo.Context) error {
		id, err := uuid.Parse(c.Param("id"))
		if err != nil {
			return errs.Invalid("invalid_request", "the user id is not a UUID")
		}
		return a.listEvents(c, id)
	}))
}

// eventPage is the answer: CloudEvents, newest first, and the cursor of
// the next (older) page when there may be one.
type eventPage struct {
	Events     []events.CloudEvent `json:"events"`
	NextBefore string              `json:"next_before,omitempty"`
}

// listEvents serves one page of a user's events. ?limit=1..200 (default
// 50); ?before=RFC 3339 time (default now).
func (a *API) listEvents(c echo.Context, userID uuid.UUID) error {
	limit, before, err := parseEventQuery(c.QueryParam("limit"), c.QueryParam("before"), time.Now())
	if err != nil {
		return err
	}
	recs, err := a.Audit.UserEvents(c.Request().Context(), userID, before, limit)
	if err != nil {
		return err
	}
	page := eventPage{Events: make([]events.CloudEvent, 0, len(recs))}
	for _, r := range recs {
		page.Events = append(page.Events, events.ToCloudEvent(r))
	}
	if len(recs) == limit {
		page.NextBefore = recs[len(recs)-1].At.UTC().Format(time.RFC3339Nano)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, page)
}

// parseEventQuery reads the paging parameters; anything malformed is a
// 400 invalid_request.
func parseEventQuery(limitParam, beforeParam string, now time.Time) (int, time.Time, error) {
	limit, before := 50, now
	if limitParam != "" {
		n, err := strconv.Atoi(limitParam)
		if err != nil || n < 1 || n > 200 {
			return 0, time.Time{}, errs.Invalid("invalid_request", "limit must be a whole number from 1 to 200")
		}
		limit = n
	}
	if beforeParam != "" {
		t, err := time.Parse(time.RFC3339Nano, beforeParam)
		if err != nil {
			return 0, time.Time{}, errs.Invalid("invalid_request", "before must be an RFC 3339 time")
		}
		before = t
	}
	return limit, before, nil
}
