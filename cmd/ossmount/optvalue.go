package main

// Typed option values: the flag behind every option that takes a value
// parses and checks it as the command line is read, so a bad value is a
// usage error naming the option before anything starts, and the code that
// uses an option gets it with its type (values).

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ossmount/ossmount/internal/units"
)

// optionValue is the parsed value of an option of any kind but kBool (a
// cli.Generic). An empty value stands for "not given": the zero value,
// which the code using the option replaces with its default.
type optionValue struct {
	kind  kind
	check func(string) error
	raw   string        // as given
	n     int64         // kInt, kSize, kOctal
	d     time.Duration // kDuration
	on    bool          // kOnOff
}

// newOptionValue returns o's value set to its default.
func newOptionValue(o option) *optionValue {
	v := &optionValue{kind: o.kind, check: o.check}
	if err := v.Set(o.def); err != nil {
		panic(fmt.Sprintf("option %s: default %q: %v", o.name, o.def, err))
	}
	return v
}

// Set parses s as the option's kind.
func (v *optionValue) Set(s string) error {
	var n int64
	var d time.Duration
	on := v.kind == kOnOff // "" is on: the one kOnOff option defaults to on
	var err error
	if s != "" {
		switch v.kind {
		case kInt:
			var i int
			if i, err = strconv.Atoi(s); err != nil {
				err = fmt.Errorf("%q is not a number", s)
			}
			n = int64(i)
		case kSize:
			n, err = parseSize(s)
		case kDuration:
			d, err = parseDuration(s)
		case kOctal:
			var u uint64
			if u, err = strconv.ParseUint(s, 8, 32); err != nil || u > 0o7777 {
				err = fmt.Errorf("%q is not an octal mode", s)
			}
			n = int64(u)
		case kOnOff:
			on, err = parseOnOff(s)
		}
		if err == nil && v.check != nil {
			err = v.check(s)
		}
	}
	if err != nil {
		return err
	}
	v.raw, v.n, v.d, v.on = s, n, d, on
	return nil
}

func (v *optionValue) String() string { return v.raw }

// optionFlag is the command-line flag of o.
func optionFlag(o option) cli.Flag {
	if o.kind == kBool {
		return &cli.BoolFlag{Name: o.name, Aliases: o.alias, Usage: o.usage, Category: o.group, Hidden: o.hidden}
	}
	return &cli.GenericFlag{Name: o.name, Aliases: o.alias, Usage: o.usage, Category: o.group, Hidden: o.hidden,
		Value: newOptionValue(o)}
}

// optionFlags are the flags of opts.
func optionFlags(opts []option) []cli.Flag {
	var fl []cli.Flag
	for _, o := range opts {
		fl = append(fl, optionFlag(o))
	}
	return fl
}

// oFlag is -o itself: normalize expands its lists before parsing, so the
// flag is there for --help.
func oFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "o", Usage: "mount options, comma-separated: -o name[=value][,...]", Category: gMount}
}

// flags are the mount command's flags: the whole option table and -o.
func flags() []cli.Flag {
	return append(optionFlags(options), oFlag())
}

// tableFlags are the flags of the option-table groups given, and -o: what
// the commands that talk to OSS directly (presign, post-policy and
// uploads for oss:// paths) take from the mount options.
func tableFlags(groups ...string) []cli.Flag {
	var opts []option
	for _, o := range options {
		for _, g := range groups {
			if o.group == g {
				opts = append(opts, o)
			}
		}
	}
	return append(optionFlags(opts), oFlag())
}

// values reads the options of a parsed command line with their types. An
// option the command does not have reads as not given.
type values struct{ c *cli.Context }

func (v values) opt(name string) *optionValue {
	if ov, ok := v.c.Generic(name).(*optionValue); ok {
		return ov
	}
	return &optionValue{}
}

func (v values) str(name string) string        { return v.opt(name).raw }
func (v values) given(name string) bool        { return v.opt(name).raw != "" }
func (v values) int(name string) int           { return int(v.opt(name).n) }
func (v values) size(name string) int64        { return v.opt(name).n }
func (v values) octal(name string) uint32      { return uint32(v.opt(name).n) }
func (v values) dur(name string) time.Duration { return v.opt(name).d }
func (v values) on(name string) bool           { return v.opt(name).on }
func (v values) bool(name string) bool         { return v.c.Bool(name) }

// parseSize reads 123, 64K, 8M, 10G, 1T (powers of 1024).
func parseSize(s string) (int64, error) { return units.ParseSize(s) }

// parseDuration reads a Go duration or plain seconds.
func parseDuration(s string) (time.Duration, error) {
	if n, err := strconv.ParseFloat(s, 64); err == nil && n >= 0 {
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration (examples: 30, 30s, 5m)", s)
	}
	return d, nil
}

// parseOnOff reads on/off, true/false, yes/no or 1/0.
func parseOnOff(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "on", "true", "yes", "1":
		return true, nil
	case "off", "false", "no", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not on or off", s)
}

// checkLogLevel accepts the log levels setupLogging knows.
func checkLogLevel(s string) error {
	if _, ok := parseLogLevel(s); !ok {
		return fmt.Errorf("%q is not one of debug, info, warn, error", s)
	}
	return nil
}

// checkAbsPath accepts an absolute path.
func checkAbsPath(s string) error {
	if !filepath.IsAbs(s) {
		return fmt.Errorf("%q is not an absolute path", s)
	}
	return nil
}

// checkHeadConcurrency accepts 1 to 1024 HEADs in flight.
func checkHeadConcurrency(s string) error {
	if n, err := strconv.Atoi(s); err != nil || n < 1 || n > 1024 {
		return fmt.Errorf("%q is not a number from 1 to 1024", s)
	}
	return nil
}

// checkSTSEndpoint accepts HOST[:PORT], without a scheme or a path.
func checkSTSEndpoint(s string) error {
	if strings.Contains(s, "://") || strings.Contains(s, "/") {
		return fmt.Errorf("%q is not HOST[:PORT] (STS is always spoken to over https)", s)
	}
	return nil
}

// checkCredentialSource accepts the names of credential sources.
func checkCredentialSource(s string) error {
	if _, ok := sourceNames[s]; ok {
		return nil
	}
	var names []string
	for n := range sourceNames {
		if n != "" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return fmt.Errorf("unknown source %q (want one of %s)", s, strings.Join(names, ", "))
}
