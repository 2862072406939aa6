// Package contract holds pingauth's contract tests against the real chat
// server (../shared/chatserver: the open-source Tiledesk server that
// Pingstreams is wire-compatible with). The tests mint tokens through every
// mode and input path of a real pingauth app and check what the chat server
// does with them: each signs in as a visitor and nothing more. They run when
// PINGSTREAMS_TEST_URL is set (start.sh prints it) and are required when
// PINGAUTH_TEST_REQUIRE_CHATSERVER=1, as in CI.
package contract
