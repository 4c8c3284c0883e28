// Package steps holds sluice's step types. Each file defines one type; shared
// infrastructure lives in sub-packages (blob, keys, pg).
package steps

import "github.com/sluice-dev/sluice/runner"

// Builtin returns the registry of every step type sluice ships. The list is
// explicit so that a reader sees every type in one place.
func Builtin() *runner.Registry {
	return runner.NewRegistry(
		// one line per step type, e.g. uploadDefinition(),
		dumpDefinition(),
		restoreDefinition(),
		checksumDefinition(),
		uploadDefinition(),
		downloadDefinition(),
		execDefinition(),
		assertDefinition(),
		compressDefinition(),
		decompressDefinition(),
		encryptDefinition(),
		decryptDefinition(),
	)
}
