package genome

import (
	"crypto/sha256"
	"encoding/hex"
)

// Hash returns the deduplication key of g: the first 16 bytes of the SHA-256
// of the canonical text Format(Repair(g, Space{})), in hex (32 characters).
// Two genomes have equal hashes exactly when their canonical genomes are
// equal.
func Hash(g Genome) string {
	sum := sha256.Sum256([]byte(Format(Repair(g, Space{}))))
	return hex.EncodeToString(sum[:16])
}
