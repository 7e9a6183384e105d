//go:build xla

package deps

import _ "github.com/gomlx/go-xla/compute/xla"
