package k6report

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

const plotW, plotH = 20 * vg.Centimeter, 10 * vg.Centimeter

// plotLegit draws the legitimate users' p95 latency per bucket.
func plotLegit(rep *Report, file string) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: legitimate logins, p95 latency per %gs", rep.Suite, rep.BucketS)
	p.X.Label.Text = "seconds since start"
	p.Y.Label.Text = "p95 (ms)"
	var pts plotter.XYs
	for _, b := range rep.Series {
		if b.LegitCount > 0 {
			pts = append(pts, plotter.XY{X: b.Second, Y: b.LegitP95Ms})
		}
	}
	line, dots, err := plotter.NewLinePoints(pts)
	if err != nil {
		return err
	}
	line.Color = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	dots.Color = line.Color
	p.Add(plotter.NewGrid(), line, dots)
	p.Y.Min = 0
	return p.Save(plotW, plotH, file)
}

// outcomeColors fixes each outcome's colour across reports.
var outcomeColors = []struct {
	name string
	c    color.RGBA
}{
	{OutcomeHashed, color.RGBA{R: 214, G: 39, B: 40, A: 255}},
	{OutcomeChallenged, color.RGBA{R: 255, G: 127, B: 14, A: 255}},
	{OutcomeLimited, color.RGBA{R: 44, G: 160, B: 44, A: 255}},
	{OutcomeLocked, color.RGBA{R: 148, G: 103, B: 189, A: 255}},
	{OutcomeOverloaded, color.RGBA{R: 140, G: 86, B: 75, A: 255}},
	{OutcomeOther, color.RGBA{R: 127, G: 127, B: 127, A: 255}},
}

// plotAttack draws attack requests per second by outcome.
func plotAttack(rep *Report, file string) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: attack requests per second by outcome", rep.Suite)
	p.X.Label.Text = "seconds since start"
	p.Y.Label.Text = "requests/s"
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	for _, oc := range outcomeColors {
		if rep.AttackTotal[oc.name] == 0 {
			continue
		}
		var pts plotter.XYs
		for _, b := range rep.Series {
			pts = append(pts, plotter.XY{X: b.Second, Y: float64(b.Attack[oc.name]) / rep.BucketS})
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		line.Color = oc.c
		line.Width = vg.Points(1.5)
		p.Add(line)
		p.Legend.Add(fmt.Sprintf("%s (%d)", oc.name, rep.AttackTotal[oc.name]), line)
	}
	p.Y.Min = 0
	return p.Save(plotW, plotH, file)
}
