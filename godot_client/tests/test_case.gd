## Base of the addon's tests. A test is a [code]test_*[/code] method (it may await); checks
## record failures instead of stopping, so one run reports every broken expectation.
extends Node

## Base URL of the gRPC-Web server, for tests that need one (from --grpc-web=).
var grpc_web_url := ""
## The server's client and admin tokens ("" for a server without tokens). Never printed.
var client_token := ""
var admin_token := ""
## The server's certificate in the pack ("" for a plain http:// server).
var trusted_ca_path := ""
var failures: PackedStringArray = []


func check(condition: bool, what: String) -> bool:
	if not condition:
		failures.append(what)
	return condition


## Equal in type and value (GDScript's == errors on some mixed types).
func check_eq(actual: Variant, expected: Variant, what: String) -> bool:
	var same: bool = typeof(actual) == typeof(expected) and actual == expected
	return check(same, "%s: expected %s, got %s" % [what, expected, actual])
