package main

import (
	"runtime/debug"
	"strings"
)

// version says which sluice this is: the module version and, when the
// binary was built from a checkout, the VCS commit, its time and whether
// the tree had changes. A build without module information is "(devel)".
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		info = nil
	}
	return versionOf(info)
}

func versionOf(info *debug.BuildInfo) string {
	v := "(devel)"
	if info == nil {
		return v
	}
	if info.Main.Version != "" {
		v = info.Main.Version
	}
	vcs := map[string]string{}
	for _, s := range info.Settings {
		if name, ok := strings.CutPrefix(s.Key, "vcs."); ok {
			vcs[name] = s.Value
		}
	}
	if rev := vcs["revision"]; rev != "" {
		v += ", commit " + rev[:min(len(rev), 12)]
		if vcs["modified"] == "true" {
			v += " (modified)"
		}
		if t := vcs["time"]; t != "" {
			v += " of " + t
		}
	}
	if info.GoVersion != "" {
		v += ", " + info.GoVersion
	}
	return v
}
