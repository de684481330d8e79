//go:build tools

// Package tools pins the Kubernetes control plane commands that
// scripts/testenv builds; it is never compiled into anything itself.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
