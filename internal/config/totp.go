package config

import (
	"fmt"
	"strings"
)

// requireTOTPFromEnv reads PINGAUTH_REQUIRE_TOTP: on|off (also 1/0,
// true/false, yes/no); default off.
func requireTOTPFromEnv(get func(k, def string) string) (bool, error) {
	switch v := strings.ToLower(get("PINGAUTH_REQUIRE_TOTP", "off")); v {
	case "on", "1", "true", "yes":
		return true, nil
	case "off", "0", "false", "no":
		return false, nil
	default:
		return false, fmt.Errorf("PINGAUTH_REQUIRE_TOTP: %q is not one of on, off", truncate(v, 40))
	}
}
