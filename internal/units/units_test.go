package units

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "4096": 4096, "512K": 512 << 10, "8M": 8 << 20, "100MB": 100 << 20,
		"1GiB": 1 << 30, " 2g ": 2 << 30, "1T": 1 << 40} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "-1", "1.5M", "M", "10X", "99999999999T"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
	// Sizes past int64 are an error saying so, never a wrapped-around
	// value (16777216T is 2^64 bytes: 0 once wrapped).
	for _, big := range []string{"16777216T", "4194305T", "99999999999999999999", "8589934592G"} {
		if n, err := ParseSize(big); err == nil || !strings.Contains(err.Error(), "too large") {
			t.Errorf("ParseSize(%q) = %d, %v; want a too-large error", big, n, err)
		}
	}
	if n, err := ParseSize("4194304T"); err != nil || n != MaxSize {
		t.Errorf("ParseSize(4194304T) = %d, %v; want %d", n, err, int64(MaxSize))
	}
	for in, want := range map[string]int64{"100MB": 100 << 20, "100MB/s": 100 << 20, "1G/s": 1 << 30} {
		if got, err := ParseRate(in); err != nil || got != want {
			t.Errorf("ParseRate(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := ParseRate("fast"); err == nil {
		t.Errorf("ParseRate(fast) accepted")
	}
}
