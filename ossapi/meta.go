package ossapi

// MaxMetaSize is the most user metadata OSS keeps with an object: the names
// (without the x-oss-meta- prefix) and values together, in bytes.
const MaxMetaSize = 8192

// MaxKeyLen is the longest object key OSS accepts, in bytes.
const MaxKeyLen = 1023

// ValidMetaName reports whether name can be a user metadata name: one or
// more ASCII letters, digits or '-'. OSS returns names lower-cased, so callers
// should store them lower-cased.
func ValidMetaName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-':
		default:
			return false
		}
	}
	return true
}

// ValidHeaderValue reports whether v can travel as an HTTP header value and
// come back unchanged: printable ASCII and tab, no leading or trailing
// white space (HTTP would trim it). Non-ASCII values are refused rather than
// mangled; callers that need them should percent-encode.
func ValidHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if (c < 0x20 && c != '\t') || c >= 0x7f {
			return false
		}
	}
	if v != "" && (v[0] == ' ' || v[0] == '\t' || v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		return false
	}
	return true
}

// MetaSize returns the size OSS counts for meta: names plus values.
func MetaSize(meta map[string]string) int {
	n := 0
	for k, v := range meta {
		n += len(k) + len(v)
	}
	return n
}
