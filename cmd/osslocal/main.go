// Command osslocal is under construction.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "osslocal: not built yet")
	os.Exit(1)
}
