// Package replicatest holds the multi-replica tests: real `pingauth serve`
// processes (built once by TestMain) on loopback ports against one real
// PostgreSQL database, changed through the real CLI binary. It has no
// non-test code.
package replicatest
