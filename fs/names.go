package fs

import "strings"

// validName reports whether a key component can be shown as a file name:
// not empty, not "." or "..", at most 255 bytes, no NUL and no '/'.
func validName(name string) bool {
	if name == "" || name == "." || name == ".." || len(name) > 255 {
		return false
	}
	return !strings.ContainsAny(name, "\x00/")
}
