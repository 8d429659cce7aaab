package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// newBenchCommand is replaced by the load generator (issue: bench).
func newBenchCommand() *cobra.Command {
	return &cobra.Command{Use: "bench", Short: "Load generator (in progress)", Hidden: true,
		RunE: func(*cobra.Command, []string) error { return fmt.Errorf("bench is not built yet") }}
}
