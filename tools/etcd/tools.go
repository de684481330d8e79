//go:build tools

// Package tools pins the etcd server that scripts/testenv builds. It lives
// in its own module so etcd's dependency versions never fight Kubernetes'.
package tools

import _ "go.etcd.io/etcd/server/v3"
