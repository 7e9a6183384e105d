// Command star-pipeline synthesises language-model backbones with STAR:
// an evolutionary, multi-objective search over hierarchical LIV genomes.
package main

import "os"

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}
