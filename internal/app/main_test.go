package app_test

import (
	"os"
	"testing"

	"github.com/pingstreams/pingauth/internal/secret/vaulttest"
)

// vaults owns the Vault server this package's tests share; TestMain creates
// it before any test runs and stops the server (if it started one) after all.
var vaults *vaulttest.Shared

func TestMain(m *testing.M) {
	vaults = vaulttest.NewShared()
	code := m.Run()
	vaults.Close()
	os.Exit(code)
}
