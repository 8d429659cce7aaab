package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// fmtMs formats milliseconds with a precision that suits the size.
func fmtMs(ms float64) string {
	switch {
	case ms == 0:
		return "0"
	case ms < 0.1 && ms > -0.1:
		return fmt.Sprintf("%.3f", ms)
	case ms < 10 && ms > -10:
		return fmt.Sprintf("%.2f", ms)
	case ms < 1000 && ms > -1000:
		return fmt.Sprintf("%.1f", ms)
	}
	return fmt.Sprintf("%.0f", ms)
}

func fmtBytes(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}

func fmtPct(f float64) string { return fmt.Sprintf("%.2f %%", 100*f) }

func fmtRatio(f float64) string {
	if f == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", f)
}

func fmtErrors(p *Phase) string {
	if len(p.Errors) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range p.ErrorClasses() {
		parts = append(parts, fmt.Sprintf("%s %d", k, p.Errors[k]))
	}
	return strings.Join(parts, ", ")
}

func fmtProc(s *ProcStats) string {
	if s == nil {
		return "–"
	}
	return fmt.Sprintf("RSS %s (peak %s), CPU %.1f s = %.0f %% of a core", fmtBytes(s.RSSEnd), fmtBytes(s.RSSPeak), s.CPUSeconds, s.CPUPercent)
}

// rows are the figures of the phases as label and one cell per phase.
func (r *Report) rows() [][]string {
	var rows [][]string
	add := func(label string, f func(p *Phase) string) {
		row := []string{label}
		for _, p := range r.Phases {
			row = append(row, f(p))
		}
		rows = append(rows, row)
	}
	add("scenario", func(p *Phase) string { return p.Scenario })
	add("target", func(p *Phase) string { return p.Target })
	add("streams ok / failed", func(p *Phase) string { return fmt.Sprintf("%d / %d", p.Succeeded, p.Failed) })
	add("success rate", func(p *Phase) string { return fmtPct(p.SuccessRate) })
	add("errors", fmtErrors)
	add("streams/s", func(p *Phase) string { return fmt.Sprintf("%.1f", p.StreamsPerSec) })
	add("tokens/s", func(p *Phase) string { return fmt.Sprintf("%.0f", p.TokensPerSec) })
	for _, h := range []struct {
		name string
		get  func(p *Phase) Summary
	}{{"TTFT", func(p *Phase) Summary { return p.TTFT }}, {"inter-token gap", func(p *Phase) Summary { return p.Gap }}, {"total", func(p *Phase) Summary { return p.Total }}} {
		add(h.name+" p50/p90/p99/p99.9/max ms", func(p *Phase) string {
			s := h.get(p)
			return fmt.Sprintf("%s / %s / %s / %s / %s", fmtMs(s.P50), fmtMs(s.P90), fmtMs(s.P99), fmtMs(s.P999), fmtMs(s.Max))
		})
	}
	add("bytes per reply (rx/tx)", func(p *Phase) string { return fmt.Sprintf("%.0f / %.0f", p.RxPerReply, p.TxPerReply) })
	add("server", func(p *Phase) string { return fmtProc(p.Server) })
	add("upstream (llmsim)", func(p *Phase) string { return fmtProc(p.Upstream) })
	add("elapsed s", func(p *Phase) string { return fmt.Sprintf("%.1f", p.Elapsed) })
	return rows
}

func (r *Report) overheadRows() [][]string {
	o := r.Overhead
	if o == nil {
		return nil
	}
	return [][]string{
		{"streams/s, switchboard ÷ direct", fmtRatio(o.RateRatio), ""},
		{"TTFT p50", fmtRatio(o.TTFTP50Ratio), fmt.Sprintf("%+.2f ms", o.TTFTP50AddedMs)},
		{"TTFT p99", fmtRatio(o.TTFTP99Ratio), fmt.Sprintf("%+.2f ms", o.TTFTP99AddedMs)},
		{"total p50", fmtRatio(o.TotalP50Ratio), fmt.Sprintf("%+.2f ms", o.TotalP50AddedMs)},
		{"total p99", fmtRatio(o.TotalP99Ratio), fmt.Sprintf("%+.2f ms", o.TotalP99AddedMs)},
	}
}

func (r *Report) idleRows() [][]string {
	i := r.Idle
	if i == nil {
		return nil
	}
	errs := "none"
	if len(i.Errors) > 0 {
		var parts []string
		for k, v := range i.Errors {
			parts = append(parts, fmt.Sprintf("%s %d", k, v))
		}
		errs = strings.Join(parts, ", ")
	}
	return [][]string{
		{"sockets requested", fmt.Sprint(i.Requested)},
		{"worker processes", fmt.Sprint(i.Workers)},
		{"sockets open (server gauge)", fmt.Sprintf("%d (%d)", i.Open, i.ServerSockets)},
		{"failed / dropped while held", fmt.Sprintf("%d / %d", i.Failed, i.Dropped)},
		{"errors", errs},
		{"time to open", fmt.Sprintf("%.1f s", i.OpenSeconds)},
		{"held for", fmt.Sprintf("%.0f s", i.HoldSeconds)},
		{"server RSS before → after", fmt.Sprintf("%s → %s", fmtBytes(i.RSSBefore), fmtBytes(i.RSSAfter))},
		{"server RSS per connection", fmt.Sprintf("%.1f KiB", i.PerConnKiB)},
		{"server", fmtProc(i.Server)},
	}
}

// WriteTable writes the report as aligned text.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "switchboard bench %s — %s, %d CPUs, %s\n", r.Scenario, r.Machine.OS, r.Machine.CPUs, r.Time.Format("2006-01-02 15:04 MST"))
	for _, n := range r.Notes {
		fmt.Fprintf(tw, "note: %s\n", n)
	}
	if len(r.Phases) > 0 {
		fmt.Fprint(tw, "\n")
		head := []string{""}
		for _, p := range r.Phases {
			head = append(head, p.Name)
		}
		fmt.Fprintln(tw, strings.Join(head, "\t"))
		for _, row := range r.rows() {
			fmt.Fprintln(tw, strings.Join(row, "\t"))
		}
	}
	if rows := r.overheadRows(); rows != nil {
		fmt.Fprint(tw, "\noverhead\tratio\tadded\n")
		for _, row := range rows {
			fmt.Fprintln(tw, strings.Join(row, "\t"))
		}
	}
	if rows := r.idleRows(); rows != nil {
		fmt.Fprint(tw, "\n")
		for _, row := range rows {
			fmt.Fprintln(tw, strings.Join(row, "\t"))
		}
	}
	return tw.Flush()
}

// mdCell escapes a Markdown table cell.
func mdCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func mdTable(w io.Writer, head []string, rows [][]string) {
	fmt.Fprintf(w, "| %s |\n", strings.Join(head, " | "))
	sep := make([]string, len(head))
	for i := range sep {
		sep[i] = "---"
	}
	fmt.Fprintf(w, "|%s|\n", strings.Join(sep, "|"))
	for _, row := range rows {
		cells := make([]string, len(row))
		for i, c := range row {
			cells[i] = mdCell(c)
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
	}
}

// WriteMarkdown writes the report as a Markdown section titled title.
func (r *Report) WriteMarkdown(w io.Writer, title string) error {
	if title == "" {
		title = "switchboard bench " + r.Scenario
	}
	fmt.Fprintf(w, "\n### %s\n\n", title)
	fmt.Fprintf(w, "%s · %s · %d CPUs (%s) · %s\n\n", r.Time.Format("2006-01-02 15:04 MST"), r.Machine.OS, r.Machine.CPUs, r.Machine.CPUModel, r.Machine.Go)
	if r.Command != "" {
		fmt.Fprintf(w, "```\n%s\n```\n\n", r.Command)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "- %s\n", n)
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(w)
	}
	if len(r.Phases) > 0 {
		head := []string{""}
		for _, p := range r.Phases {
			head = append(head, p.Name)
		}
		mdTable(w, head, r.rows())
		fmt.Fprintln(w)
	}
	if rows := r.overheadRows(); rows != nil {
		mdTable(w, []string{"Switchboard overhead", "ratio", "added"}, rows)
		fmt.Fprintln(w)
	}
	if rows := r.idleRows(); rows != nil {
		mdTable(w, []string{"idle-connections", ""}, rows)
		fmt.Fprintln(w)
	}
	return nil
}
