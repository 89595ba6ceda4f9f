// Command ossmount is under construction.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "ossmount: not built yet")
	os.Exit(1)
}
