package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is approvalctl's version; a release build sets it with
// -ldflags "-X main.version=1.2.3". When empty, the module version of the
// build (set by go install module@version) is used.
var version = ""

// versionString returns the version: the -X one, the module's, or "devel".
func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// buildInfo describes the binary.
type buildInfo struct {
	Version  string `json:"version"`
	Commit   string `json:"commit,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

func currentBuild() buildInfo {
	b := buildInfo{Version: versionString(), Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Commit = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	return b
}

func (a *app) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print approvalctl's version",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			b := currentBuild()
			return a.emitValue(b, func(t *table) {
				s := fmt.Sprintf("approvalctl %s (%s, %s", b.Version, b.Go, b.Platform)
				if b.Commit != "" {
					s += ", commit " + truncate(b.Commit, 13)
					if b.Modified {
						s += "+dirty"
					}
				}
				t.row(s + ")")
			}, func() []string { return []string{b.Version} })
		},
	}
}
