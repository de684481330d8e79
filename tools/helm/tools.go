//go:build tools

// Package tools pins the helm command that scripts/helm-build compiles
// for rendering charts/pam-operator in the tests; it is never compiled
// into anything itself.
package tools

import (
	_ "helm.sh/helm/v3/cmd/helm"
)
