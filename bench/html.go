package bench

import (
	"fmt"
	"html"
	"io"
	"strings"
)

// chart geometry of the HTML report.
const (
	chartW, chartH = 640, 220
	padL, padB     = 56, 36
)

// WriteHTML writes a self-contained page (inline SVG, no scripts): the
// latency histograms of every phase and throughput over time.
func (r *Report) WriteHTML(w io.Writer) error {
	var b strings.Builder
	b.WriteString(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>switchboard bench</title><style>
body{font:14px/1.4 system-ui,sans-serif;margin:2rem;color:#222;max-width:1400px}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}
.charts{display:flex;flex-wrap:wrap;gap:1rem}figure{margin:0}figcaption{font-weight:600}
svg text{font-size:11px;fill:#444}</style></head><body>`)
	fmt.Fprintf(&b, "<h1>switchboard bench %s</h1><p>%s · %s · %d CPUs (%s)</p>", html.EscapeString(r.Scenario),
		r.Time.Format("2006-01-02 15:04 MST"), html.EscapeString(r.Machine.OS), r.Machine.CPUs, html.EscapeString(r.Machine.CPUModel))
	if r.Command != "" {
		fmt.Fprintf(&b, "<pre>%s</pre>", html.EscapeString(r.Command))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "<p>%s</p>", html.EscapeString(n))
	}
	table := func(head []string, rows [][]string) {
		b.WriteString("<table><tr>")
		for _, h := range head {
			fmt.Fprintf(&b, "<th>%s</th>", html.EscapeString(h))
		}
		b.WriteString("</tr>")
		for _, row := range rows {
			b.WriteString("<tr>")
			for _, c := range row {
				fmt.Fprintf(&b, "<td>%s</td>", html.EscapeString(c))
			}
			b.WriteString("</tr>")
		}
		b.WriteString("</table>")
	}
	if len(r.Phases) > 0 {
		head := []string{""}
		for _, p := range r.Phases {
			head = append(head, p.Name)
		}
		table(head, r.rows())
	}
	if rows := r.overheadRows(); rows != nil {
		table([]string{"Switchboard overhead", "ratio", "added"}, rows)
	}
	if rows := r.idleRows(); rows != nil {
		table([]string{"idle-connections", ""}, rows)
	}
	colors := []string{"#2b6cb0", "#c05621", "#2f855a", "#6b46c1"}
	for _, kind := range []struct{ key, title string }{{"ttft", "Time to first token"}, {"gap", "Inter-token gap"}, {"total", "Total time"}} {
		b.WriteString(`<div class="charts">`)
		for i, p := range r.Phases {
			fmt.Fprintf(&b, "<figure><figcaption>%s — %s (ms, log buckets)</figcaption>", html.EscapeString(kind.title), html.EscapeString(p.Name))
			b.WriteString(histogramSVG(p.Histograms[kind.key], colors[i%len(colors)]))
			b.WriteString("</figure>")
		}
		b.WriteString("</div>")
	}
	if len(r.Phases) > 0 {
		b.WriteString("<figure><figcaption>Streams per second over time</figcaption>")
		b.WriteString(timelineSVG(r.Phases, colors))
		b.WriteString("</figure>")
	}
	b.WriteString("</body></html>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// histogramSVG draws bars of counts over log-spaced latency buckets.
func histogramSVG(bs []Bucket, color string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img">`, chartW, chartH, chartW, chartH)
	if len(bs) == 0 {
		b.WriteString(`<text x="20" y="40">no data</text></svg>`)
		return b.String()
	}
	var top int64
	for _, x := range bs {
		top = max(top, x.Count)
	}
	plotW, plotH := float64(chartW-padL-10), float64(chartH-padB-10)
	bw := plotW / float64(len(bs))
	for i, x := range bs {
		h := plotH * float64(x.Count) / float64(max(top, 1))
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s–%s ms: %d</title></rect>`,
			float64(padL)+float64(i)*bw, 10+plotH-h, max(bw-1, 1), h, color, fmtMs(x.From), fmtMs(x.To), x.Count)
	}
	axes(&b, plotW, plotH, fmt.Sprint(top))
	for _, i := range []int{0, len(bs) / 2, len(bs) - 1} {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, float64(padL)+(float64(i)+0.5)*bw, chartH-padB+16, fmtMs(bs[i].From))
	}
	b.WriteString("</svg>")
	return b.String()
}

func axes(b *strings.Builder, plotW, plotH float64, top string) {
	fmt.Fprintf(b, `<line x1="%d" y1="10" x2="%d" y2="%.1f" stroke="#888"/><line x1="%d" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#888"/>`,
		padL, padL, 10+plotH, padL, 10+plotH, float64(padL)+plotW, 10+plotH)
	fmt.Fprintf(b, `<text x="%d" y="20" text-anchor="end">%s</text><text x="%d" y="%.1f" text-anchor="end">0</text>`, padL-4, top, padL-4, 10+plotH)
}

// timelineSVG draws streams finished per second, one line per phase.
func timelineSVG(ps []*Phase, colors []string) string {
	var b strings.Builder
	w := chartW * 3 / 2
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img">`, w, chartH, w, chartH)
	var top int64
	n := 1
	for _, p := range ps {
		n = max(n, len(p.Timeline))
		for _, t := range p.Timeline {
			top = max(top, t.Streams)
		}
	}
	plotW, plotH := float64(w-padL-10), float64(chartH-padB-10)
	for i, p := range ps {
		var pts []string
		for _, t := range p.Timeline {
			x := float64(padL) + plotW*float64(t.Second)/float64(max(n-1, 1))
			y := 10 + plotH - plotH*float64(t.Streams)/float64(max(top, 1))
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
		}
		c := colors[i%len(colors)]
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, c, strings.Join(pts, " "))
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="%s" style="fill:%s">%s</text>`, padL+10+i*140, chartH-4, c, c, html.EscapeString(p.Name))
	}
	axes(&b, plotW, plotH, fmt.Sprint(top))
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="end">%d s</text>`, float64(padL)+plotW, chartH-padB+16, n-1)
	b.WriteString("</svg>")
	return b.String()
}
