package main

// The one command-line parser (urfave/cli) for every command: the app and
// its commands, the help layout, and usage errors (one line, exit status
// 2). The command line reaches it rewritten by normalizeArgv (args.go).

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"
)

// newApp builds the app; childArgs are the arguments a mount's detached
// daemon is started with (argv without the program name).
func newApp(childArgs []string) *cli.App {
	mount := func(c *cli.Context) error { return mountAction(c, childArgs) }
	app := &cli.App{
		Name:      "ossmount",
		Usage:     "mount an Alibaba Cloud OSS bucket as a directory",
		Version:   version,
		ArgsUsage: "BUCKET[:/PREFIX] MOUNTPOINT [-o opt[,opt...]]",
		Description: `Options work as -o name=value and as --name value, before or after the arguments.
Credentials come from the environment (ALIBABA_CLOUD_ACCESS_KEY_ID/_SECRET/_SECURITY_TOKEN),
a passwd file, or the credential options below. See docs/CONFIGURATION.md.`,
		Flags:  flags(),
		Action: mount,
		Commands: []*cli.Command{
			{
				Name:      "mount",
				Usage:     "mount a bucket (the default command)",
				ArgsUsage: "BUCKET[:/PREFIX] MOUNTPOINT",
				Flags:     flags(),
				Action:    mount,
			},
			unmountCommand(),    // unmount.go
			presignCommand(),    // presign.go
			postPolicyCommand(), // postpolicy.go
			uploadsCommand(),    // uploads.go
			statsCommand(),      // stats.go
			cacheCommand(),      // datacache.go
		},
		// Errors are printed and turned into exit statuses by run.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError:   onUsageError,
	}
	for _, c := range app.Commands {
		setUsageError(c)
	}
	return app
}

// orderedFlagCategoryTemplate is urfave/cli's flag category template with
// the categories in the option table's order (mount, cache, performance,
// credentials, client) instead of alphabetical.
const orderedFlagCategoryTemplate = `{{range orderedCategories .VisibleFlagCategories}}
   {{if .Name}}{{.Name}}

   {{end}}{{$flglen := len .Flags}}{{range $i, $e := .Flags}}{{if eq (subtract $flglen $i) 1}}{{$e}}
{{else}}{{$e}}
   {{end}}{{end}}{{end}}`

func init() {
	cli.HelpPrinter = func(w io.Writer, templ string, data any) {
		templ = strings.ReplaceAll(templ, `{{template "visibleFlagCategoryTemplate" .}}`, orderedFlagCategoryTemplate)
		cli.HelpPrinterCustom(w, templ, data, map[string]any{"orderedCategories": orderCategories})
	}
}

// orderCategories puts uncategorized flags first, then the option groups
// in groupOrder, then any other category.
func orderCategories(cats []cli.VisibleFlagCategory) []cli.VisibleFlagCategory {
	rank := func(name string) int {
		if name == "" {
			return -1
		}
		for i, g := range groupOrder {
			if g == name {
				return i
			}
		}
		return len(groupOrder)
	}
	out := append([]cli.VisibleFlagCategory(nil), cats...)
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i].Name()) < rank(out[j].Name()) })
	return out
}

// setUsageError makes every usage error of c and its subcommands one line
// and exit status 2, like the others (urfave/cli would print the whole
// help and exit 1).
func setUsageError(c *cli.Command) {
	c.OnUsageError = onUsageError
	for _, sub := range c.Subcommands {
		setUsageError(sub)
	}
}

func onUsageError(c *cli.Context, err error, _ bool) error {
	return flagError(commandPath(c), err)
}

// commandPath names the command running in c, subcommand included
// ("uploads list"); "" for mounting.
func commandPath(c *cli.Context) string {
	var names []string
	for _, x := range c.Lineage() {
		if x.Command == nil || x.Command.Name == c.App.Name || x.Command.Name == "mount" ||
			len(names) > 0 && names[0] == x.Command.Name {
			continue
		}
		names = append([]string{x.Command.Name}, names...)
	}
	return strings.Join(names, " ")
}

// flagError is the usage error for a flag the command line of cmd ("" for
// mounting) got wrong: one line naming it, exit status 2. A bad value is
// told as the option's own check said it ("option NAME: why" for a mount
// option, "--NAME: why" for a command's own flag).
func flagError(cmd string, err error) error {
	msg := err.Error()
	if name, why, ok := badFlagValue(msg); ok {
		if lookupOption(name) != nil {
			return usageError("option %s: %s", name, why)
		}
		return usageError("--%s: %s", name, why)
	}
	if _, name, ok := strings.Cut(msg, "flag provided but not defined: "); ok {
		msg = fmt.Sprintf("unknown option --%s", strings.TrimLeft(name, "-"))
	}
	if cmd == "" {
		return usageError("%s (see ossmount --help)", msg)
	}
	return usageError("%s: %s (see ossmount %s --help)", cmd, msg, cmd)
}

// badFlagValue reads the flag package's `invalid value "V" for flag -NAME:
// WHY` (a value its flag.Value refused).
func badFlagValue(msg string) (name, why string, ok bool) {
	if !strings.HasPrefix(msg, "invalid value ") {
		return "", "", false
	}
	_, rest, ok := strings.Cut(msg, `" for flag -`)
	if !ok {
		return "", "", false
	}
	name, why, ok = strings.Cut(rest, ": ")
	return name, why, ok
}

// usageError is a command-line mistake (exit status 2).
func usageError(format string, a ...any) error {
	return cli.Exit(fmt.Sprintf(format, a...), 2)
}
