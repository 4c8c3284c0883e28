// Package steps holds sluice's step types. Each file defines one type; shared
// infrastructure lives in sub-packages (blob, keys, pg, manifest).
package steps

import "github.com/sluice-dev/sluice/runner"

// Builtin returns the registry of every step type sluice ships. The list is
// explicit so that a reader sees every type in one place.
func Builtin() *runner.Registry {
	return runner.NewRegistry(
		// sources
		dumpDefinition(),
		downloadDefinition(),
		// transforms
		compressDefinition(),
		decompressDefinition(),
		encryptDefinition(),
		decryptDefinition(),
		checksumDefinition(),
		// sinks
		uploadDefinition(),
		restoreDefinition(),
		// actions
		postgresDefinition(),
		execDefinition(),
		assertDefinition(),
		measureDefinition(),
		assertOverheadDefinition(),
		rotateKeyDefinition(),
		checkTLSDefinition(),
		verifyDefinition(),
		pruneDefinition(),
		planDefinition(),
	)
}
