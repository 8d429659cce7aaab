package chat

import (
	"testing"
	"time"

	sb "github.com/switchboard-chat/switchboard"
)

func TestInBusinessHours(t *testing.T) {
	weekdays := &sb.Hours{TimeZone: "Asia/Shanghai", Days: []int{1, 2, 3, 4, 5}, Open: "09:00", Close: "18:00", Holidays: []string{"2026-10-01"}}
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	for _, tc := range []struct {
		name   string
		h      *sb.Hours
		t      string
		inside bool
	}{
		{"NoSchedule", nil, "2026-11-24T03:00:00Z", true},
		{"TuesdayMorningShanghai", weekdays, "2026-11-24T01:30:00Z", true}, // 09:30 local
		{"BeforeOpening", weekdays, "2026-11-24T00:30:00Z", false},         // 08:30 local
		{"AtClosing", weekdays, "2026-11-24T10:00:00Z", false},             // 18:00 local
		{"Sunday", weekdays, "2026-11-22T03:00:00Z", false},
		{"Holiday", weekdays, "2026-10-01T03:00:00Z", false},              // a Thursday
		{"DayInLocalTimeNotUTC", weekdays, "2026-11-23T17:00:00Z", false}, // Monday UTC, Tuesday 01:00 local
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := inBusinessHours(tc.h, at(tc.t)); got != tc.inside {
				t.Fatalf("inBusinessHours = %v, want %v", got, tc.inside)
			}
		})
	}
}
