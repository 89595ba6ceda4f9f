package main

import (
	"os"
	"strings"
)

// fsType is the type of ossmount's mounts in the mount table (FUSE with
// subtype "ossmount").
const fsType = "fuse.ossmount"

// mountEntry is one line of /proc/self/mountinfo (proc(5)).
type mountEntry struct {
	dev    string // major:minor
	point  string // mount point
	fstype string // e.g. "fuse.ossmount", "tmpfs", "proc"
	source string // e.g. "ossmount:bucket", "tmpfs"
}

// isOssmount reports whether the entry is a mount of ossmount.
func (e mountEntry) isOssmount() bool { return e.fstype == fsType }

// mounts reads the mount table, in mount order (a later line stacks over
// an earlier one at the same point). It asks no file system anything.
func mounts() []mountEntry {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []mountEntry
	for _, line := range strings.Split(string(data), "\n") {
		// ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 5 || len(g) < 2 {
			continue
		}
		out = append(out, mountEntry{dev: f[2], point: unescapeMount(f[4]), fstype: unescapeMount(g[0]), source: unescapeMount(g[1])})
	}
	return out
}

// mountAt returns the mount on top at path, if path is a mount point.
func mountAt(path string) (mountEntry, bool) {
	var top mountEntry
	found := false
	for _, e := range mounts() {
		if e.point == path {
			top, found = e, true
		}
	}
	return top, found
}

// mountHolding returns the mount that holds path: the one on top at the
// longest mount point containing it.
func mountHolding(path string) (mountEntry, bool) {
	var best mountEntry
	found := false
	for _, e := range mounts() {
		if (e.point == path || e.point == "/" || strings.HasPrefix(path, e.point+"/")) && len(e.point) >= len(best.point) {
			best, found = e, true
		}
	}
	return best, found
}

// mountDev returns the device (major:minor) of the mount at mnt, "" if
// mnt is not a mount point.
func mountDev(mnt string) string {
	e, _ := mountAt(mnt)
	return e.dev
}

// unescapeMount undoes the octal escapes of the mount table.
func unescapeMount(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}
