// Package benchkit holds what the benchmark commands (cmd/pingauth-bench-*)
// share to start a real `pingauth serve` on loopback and wait for it.
package benchkit

import (
	"fmt"
	"net"
	"net/http"
	"time"
)

// FreeAddr returns a loopback address with a free port.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// WaitReady polls base+"/readyz" until it answers 200, for at most within.
func WaitReady(base string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if r, err := http.Get(base + "/readyz"); err == nil {
			_ = r.Body.Close()
			if r.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("pingauth serve did not become ready in %s", within)
}
