package httpapi

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/gatehouse-id/gatehouse/app/errs"
)

// DefenseModes reads and switches the region's defense mode ("normal",
// "elevated", "emergency"); app/defense behind an adapter in cmd.
type DefenseModes interface {
	// Mode returns the mode and why, as a JSON-ready value.
	Mode(ctx context.Context) (any, error)
	// SetMode switches the operator's mode; a bad name is KindInvalid.
	SetMode(ctx context.Context, mode string) error
}

// Importer runs a bulk import of JSON lines (app/importer behind an
// adapter in cmd) and returns {imported, updated, rejected}.
type Importer interface {
	Import(ctx context.Context, body io.Reader) (any, error)
}

func (a *API) importUsers(c echo.Context) error {
	if a.Importer == nil {
		return errs.E(errs.KindNotFound, "not_found", "bulk import is not enabled")
	}
	res, err := a.Importer.Import(c.Request().Context(), c.Request().Body)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

func (a *API) devices(c echo.Context) error {
	list, err := a.Auth.Devices(c.Request().Context(), principal(c))
	if err != nil {
		return err
	}
	out := make([]map[string]any, 0, len(list))
	for _, d := range list {
		out = append(out, map[string]any{
			"id": d.ID.String(), "name": d.Name, "ip": d.IP,
			"created_at": d.CreatedAt.UTC().Format(time.RFC3339), "last_used_at": d.LastUsedAt.UTC().Format(time.RFC3339),
		})
	}
	return c.JSON(http.StatusOK, map[string]any{"devices": out})
}

func (a *API) forgetDevice(c echo.Context) error {
	id, err := uuid.Parse(c.Param("id"))
	if err != nil {
		return errs.E(errs.KindNotFound, "not_found", "no such device")
	}
	if err := a.Auth.ForgetDevice(c.Request().Context(), principal(c), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (a *API) getDefense(c echo.Context) error {
	if a.Defense == nil {
		return errs.E(errs.KindNotFound, "not_found", "the defense layers are off")
	}
	state, err := a.Defense.Mode(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, state)
}

type defenseRequest struct {
	Mode string `json:"mode"`
}

func (a *API) putDefense(c echo.Context) error {
	if a.Defense == nil {
		return errs.E(errs.KindNotFound, "not_found", "the defense layers are off")
	}
	var req defenseRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if err := a.Defense.SetMode(c.Request().Context(), req.Mode); err != nil {
		return err
	}
	return a.getDefense(c)
}
