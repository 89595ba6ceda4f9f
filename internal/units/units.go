// Package units reads the sizes and rates given on command lines and in
// mount options: 4096, 512K, 8M, 10G, 1T, with an optional B or iB
// ("100MB", "1GiB"), in powers of 1024 as ossfs and ossutil read them.
//
// Both commands read these units (cmd/ossmount's size options,
// cmd/osslocal's --bandwidth and --conn-bandwidth), and none of the
// layout's packages (fs, ossapi, cache, auth) is the home of command-line
// values, so the one parser lives here, under internal/: shared by the
// module's commands, not part of its API.
package units

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ParseSize reads 123, 64K, 8M, 10G, 1T (powers of 1024; "MB" and "MiB"
// mean the same).
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(strings.ToUpper(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := int64(1)
	if t != "" {
		switch t[len(t)-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		}
		if mult != 1 {
			t = t[:len(t)-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if errors.Is(err, strconv.ErrRange) || err == nil && n > MaxSize/mult {
		return 0, fmt.Errorf("%q is too large (at most %dT)", s, MaxSize>>40)
	}
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size (examples: 4096, 512K, 8M, 10G)", s)
	}
	return n * mult, nil
}

// MaxSize is the largest size ParseSize accepts (4 EiB, 4194304T): sizes
// that do not fit in an int64 are refused, never wrapped around.
const MaxSize = 1 << 62

// ParseRate reads a rate in bytes per second: a size, optionally followed
// by "/s" ("100MB", "100MB/s", "1G").
func ParseRate(s string) (int64, error) {
	n, err := ParseSize(strings.TrimSuffix(strings.TrimSpace(s), "/s"))
	if err != nil {
		return 0, fmt.Errorf("%q is not a rate (examples: 100MB, 100MB/s, 1G: bytes per second)", s)
	}
	return n, nil
}
