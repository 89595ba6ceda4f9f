package main

// The command line, before it is parsed: every command takes its options
// before or after its positional arguments, and mount options also as -o
// lists (as mount(8) and fstab give them). normalizeArgv rewrites a
// command line into the form the one parser (urfave/cli) reads: options
// first, each -o list expanded into --name=value flags, then the
// positional arguments. mount(8)'s own argv is turned into ossmount's
// first (helperArgs).

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
)

// ignoredMountOptions are mount(8)/systemd options with no meaning here.
var ignoredMountOptions = map[string]bool{
	"_netdev": true, "nofail": true, "auto": true, "noauto": true, "user": true, "users": true, "nouser": true,
	"defaults": true, "dev": true, "nodev": true, "suid": true, "nosuid": true, "exec": true, "noexec": true,
	"async": true, "atime": true, "noatime": true, "relatime": true, "norelatime": true, "strictatime": true,
	"lazytime": true, "nolazytime": true, "owner": true, "group": true, "nofail_if_unmounted": true,
}

// normalizeArgv rewrites argv (program name first) for the command and
// subcommand it names, or for mounting when it names none; see normalize.
func normalizeArgv(app *cli.App, argv []string) ([]string, error) {
	fl, cmds := app.Flags, app.Commands
	i := 1
	for ; i < len(argv); i++ {
		c := findCommand(cmds, argv[i])
		if c == nil {
			break
		}
		fl, cmds = c.Flags, c.Subcommands
	}
	rest, err := normalize(fl, argv[i:])
	if err != nil {
		return nil, err
	}
	return append(append([]string(nil), argv[:i]...), rest...), nil
}

// findCommand returns the command of cmds named (or aliased) name.
func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// normalize puts the flags of args (a command's arguments, fl its flags)
// before its positional arguments, keeping each flag's value with it, and
// expands every `-o a=b,c` into `--a=b --c` when the command takes -o:
// mount(8)-only options are dropped there, and an unknown option is an
// error naming it. Whatever follows "--" is positional. Unknown flags are
// kept, for the parser to refuse.
func normalize(fl []cli.Flag, args []string) ([]string, error) {
	takesValue := map[string]bool{}
	for _, f := range fl {
		tv, ok := f.(cli.DocGenerationFlag)
		for _, n := range f.Names() {
			takesValue[n] = ok && tv.TakesValue()
		}
	}
	_, hasO := takesValue["o"]
	var flagsOut, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			pos = append(pos, args[i+1:]...)
			i = len(args)
		case hasO && (a == "-o" || a == "--o" || strings.HasPrefix(a, "-o") && !strings.HasPrefix(a, "--")):
			list := strings.TrimPrefix(a, "-o")
			if a == "-o" || a == "--o" {
				if i+1 >= len(args) {
					return nil, fmt.Errorf("-o needs a value")
				}
				i++
				list = args[i]
			}
			exp, err := expandOptionList(list)
			if err != nil {
				return nil, err
			}
			flagsOut = append(flagsOut, exp...)
		case strings.HasPrefix(a, "-") && a != "-":
			name, _, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
			flagsOut = append(flagsOut, a)
			if takesValue[name] && !hasVal && i+1 < len(args) {
				i++
				flagsOut = append(flagsOut, args[i])
			}
		default:
			pos = append(pos, a)
		}
	}
	for _, p := range pos {
		if strings.HasPrefix(p, "-") && p != "-" {
			flagsOut = append(flagsOut, "--") // keep it positional
			break
		}
	}
	return append(flagsOut, pos...), nil
}

// expandOptionList turns one -o list into flags. The list is split on
// every comma: a value cannot hold one (additional_headers takes
// colon-separated names for that reason).
func expandOptionList(list string) ([]string, error) {
	var out []string
	for _, item := range strings.Split(list, ",") {
		if item == "" {
			continue
		}
		name, val, hasVal := strings.Cut(item, "=")
		if ignoredMountOptions[name] || strings.HasPrefix(name, "x-") || name == "comment" {
			continue
		}
		o := lookupOption(name)
		switch {
		case o == nil:
			return nil, fmt.Errorf("unknown mount option %q", name)
		case o.kind == kBool && hasVal:
			b, err := strconv.ParseBool(val)
			if err != nil {
				return nil, fmt.Errorf("option %s: %q is not a boolean", name, val)
			}
			out = append(out, fmt.Sprintf("--%s=%t", o.name, b))
		case o.kind == kBool:
			out = append(out, "--"+o.name)
		case !hasVal:
			return nil, fmt.Errorf("option %s needs a value (-o %s=VALUE)", name, name)
		default:
			out = append(out, "--"+o.name+"="+val)
		}
	}
	return out, nil
}

// isMountHelper reports whether ossmount runs as mount(8)'s helper
// (installed as /sbin/mount.fuse.ossmount).
func isMountHelper(argv0 string) bool {
	return strings.HasPrefix(filepath.Base(argv0), "mount.")
}

// helperArgs rewrites a mount helper's argv,
//
//	mount.fuse.ossmount SOURCE MOUNTPOINT [-sfnv] [-o OPTIONS] [-t TYPE]
//
// into ossmount's: mount(8)'s flags -s (sloppy), -n (no mtab) and -v
// (verbose) are dropped, -t TYPE is dropped, and -f (fake: do everything
// but the mount) makes fake true. In particular -f does not mean
// foreground and -v does not mean version here.
func helperArgs(argv []string) (out []string, fake bool) {
	out = []string{"ossmount"}
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		switch {
		case a == "-t" || a == "--types":
			i++
		case strings.HasPrefix(a, "-t") && len(a) > 2 && !strings.HasPrefix(a, "--"):
		case a == "-o" || a == "--options":
			if i+1 < len(argv) {
				out = append(out, "-o", argv[i+1])
			}
			i++
		case strings.HasPrefix(a, "-o"):
			out = append(out, a)
		case len(a) > 1 && a[0] == '-' && a[1] != '-' && strings.Trim(a[1:], "sfnv") == "":
			if strings.Contains(a, "f") {
				fake = true
			}
		default:
			out = append(out, a)
		}
	}
	return out, fake
}
