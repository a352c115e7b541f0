## One gRPC-Web call (HTTP/1.1, binary protobuf) over [HTTPClient], reading the response
## body as it streams in, so a server-streaming reply arrives token by token.
##
## Works in every export: on the web, HTTPClient is the browser's fetch (the server must
## allow the page's origin). Each call has its own connection, so a tool result can be
## sent while a reply is still streaming.
##
## A server with tokens (serve --auth-tokens) wants [member token]; one with TLS
## (serve --tls-cert) an https:// URL, and [member trusted_ca] when its certificate is
## not signed by a CA the system trusts (a self-signed one).
## [codeblock]
## var call := GrpcWebCall.new()
## call.token = token
## call.message.connect(func(payload: PackedByteArray) -> void: print(payload.size()))
## await call.run("http://127.0.0.1:8080", "/npc.v1.DialogueService/Say", request.encode())
## if call.code != GrpcWebCall.Code.OK: push_error(call.details)
## [/codeblock]
extends RefCounted

## A response message arrived (the payload of one data frame).
signal message(payload: PackedByteArray)

## gRPC status codes.
enum Code {
	OK,
	CANCELLED,
	UNKNOWN,
	INVALID_ARGUMENT,
	DEADLINE_EXCEEDED,
	NOT_FOUND,
	ALREADY_EXISTS,
	PERMISSION_DENIED,
	RESOURCE_EXHAUSTED,
	FAILED_PRECONDITION,
	ABORTED,
	OUT_OF_RANGE,
	UNIMPLEMENTED,
	INTERNAL,
	UNAVAILABLE,
	DATA_LOSS,
	UNAUTHENTICATED,
}

## [member unreachable] after an UNAVAILABLE call: nothing answers at the address (no
## server there, or the wrong host or port). In a web export it also covers what a browser
## reports the same way: a certificate the browser does not trust, an http:// server called
## from an https:// page.
const NO_SERVER := &"no_server"
## [member unreachable], web exports only: something answers HTTP at the address, but the
## browser withheld its answer from the page because the server does not allow the page's
## origin (CORS; serve --web-cors-origin).
const ORIGIN_REFUSED := &"origin_refused"
## [member unreachable], desktop and mobile: the TLS handshake failed (the server's
## certificate does not chain to [member trusted_ca] or the system's CAs).
const TLS_FAILED := &"tls_failed"
const Frames := preload("grpc_web_frames.gd")
const PROBE_MS := 3000  # how long the browser probe of an unreachable server may take
# Only headers gRPC-Web CORS setups allow (plus grpc-timeout, when there is a deadline,
# authorization, when there is a token, and x-npc-session, when there is an affinity key).
const HEADERS: PackedStringArray = [
	"Content-Type: application/grpc-web+proto",
	"Accept: application/grpc-web+proto",
	"X-Grpc-Web: 1",
]

## The bearer token, sent as the header "authorization: Bearer <token>"; "" sends none.
## Never printed: not in [member details], nor in any message of this addon.
var token := ""
## The conversation's affinity key, sent as the header "x-npc-session" (a load balancer
## routes the conversation's calls by it); "" sends none. Printable ASCII without spaces,
## like [member token]: NpcDialogue percent-encodes what a header cannot carry.
var affinity_key := ""
## For https:// URLs: the certificate (a CA, or the server's own self-signed one) that the
## server's certificate must chain to. Null: the system's trusted CAs. Used through
## [method TLSOptions.client] on desktop and mobile; a web export's requests are the
## browser's, and the browser decides what it trusts.
var trusted_ca: X509Certificate = null
## The call's status once [method run] returned.
var code: Code = Code.UNKNOWN
## The server's grpc-message (or what went wrong on the way), once [method run] returned.
var details := ""
## With [constant RESOURCE_EXHAUSTED]: how long the server asks the caller to wait before
## trying again (its retry-after-ms), in milliseconds; -1 when it sent no hint (or, in a
## web export, when the browser did not let the page read it).
var retry_after_ms := -1
## With [constant Code.UNAVAILABLE]: why the server could not be reached, where the addon
## can tell ([constant NO_SERVER], [constant ORIGIN_REFUSED], [constant TLS_FAILED]); &""
## when it cannot, or for any other status.
var unreachable := &""
var _http := HTTPClient.new()
var _cancelled := false
var _deadline := -1  # Time.get_ticks_msec() after which the call gives up; -1: never


## Sends [param request] (an encoded message) to [param method] ("/package.Service/Rpc")
## of the server at [param base_url] ("http://host:port"), emits [signal message] for each
## response message, and returns when the call is over: see [member code].
## [param timeout_s] <= 0 waits forever.
func run(base_url: String, method: String, request: PackedByteArray, timeout_s := 0.0) -> void:
	_deadline = Time.get_ticks_msec() + int(timeout_s * 1000.0) if timeout_s > 0 else -1
	var url := _parse_url(base_url)
	if url.is_empty():
		_finish(Code.INVALID_ARGUMENT, "not an http(s) URL: %s" % base_url)
	elif not is_valid_token(token):
		_finish(Code.INVALID_ARGUMENT, "the token has characters a header cannot carry")
	elif not is_valid_token(affinity_key):
		_finish(Code.INVALID_ARGUMENT, "the affinity key has characters a header cannot carry")
	elif await _connect(url) and await _send(url, url.path + method, request, timeout_s):
		await _read_response()


## Stops the call: [method run] returns with [constant CANCELLED] and the connection
## closes, so the server stops the RPC. (Except on the web: Godot 4.6's web HTTPClient does
## not abort the browser's request, so the server runs the RPC to its end.)
func cancel() -> void:
	_cancelled = true


## Whether [param value] can be sent as a token: printable ASCII without spaces (or "").
static func is_valid_token(value: String) -> bool:
	for i in value.length():
		if value.unicode_at(i) <= 0x20 or value.unicode_at(i) >= 0x7F:
			return false
	return true


func _connect(url: Dictionary) -> bool:
	var tls: TLSOptions = TLSOptions.client(trusted_ca) if url.tls else null
	var err := _http.connect_to_host(url.host, url.port, tls)
	while (
		err == OK
		and _http.get_status() in [HTTPClient.STATUS_RESOLVING, HTTPClient.STATUS_CONNECTING]
	):
		if not await _tick():
			return false
	if err != OK or _http.get_status() != HTTPClient.STATUS_CONNECTED:
		var why := error_string(err) if err != OK else _status_text()
		var tls_failed := _http.get_status() == HTTPClient.STATUS_TLS_HANDSHAKE_ERROR
		unreachable = TLS_FAILED if tls_failed else NO_SERVER
		_finish(Code.UNAVAILABLE, "cannot connect to %s:%d (%s)" % [url.host, url.port, why])
		return false
	return true


func _send(url: Dictionary, path: String, request: PackedByteArray, timeout_s: float) -> bool:
	var headers := HEADERS.duplicate()
	if timeout_s > 0:  # the server gives up too (and stops generating) at the deadline
		headers.append("Grpc-Timeout: %dm" % int(timeout_s * 1000.0))
	if token != "":
		headers.append("Authorization: Bearer " + token)
	if affinity_key != "":
		headers.append("X-Npc-Session: " + affinity_key)
	var err := _http.request_raw(HTTPClient.METHOD_POST, path, headers, _frame(request))
	while err == OK and _http.get_status() == HTTPClient.STATUS_REQUESTING:
		if not await _tick():
			return false
	if err != OK or not _http.has_response():
		var why := error_string(err) if err != OK else _status_text()
		if err == OK and OS.has_feature("web") and not _cancelled:
			why = await _why_unreachable_in_browser(url)
		_finish(Code.UNAVAILABLE, "no response to %s (%s)" % [path, why])
		return false
	return true


# In a browser, fetch fails the same way ("TypeError: Failed to fetch") for a server that is
# down and for one that does not allow this page's origin. A no-cors GET tells them apart:
# it resolves (with an opaque response) whenever anything answers HTTP at the address. It
# cannot tell a stopped server from an untrusted certificate: both fail the probe too.
# Sets [member unreachable]; returns what to say.
func _why_unreachable_in_browser(url: Dictionary) -> String:
	var window: JavaScriptObject = JavaScriptBridge.get_interface("window")
	if window == null:  # a web build without the JavaScript bridge
		return _status_text()
	var server := "%s://%s:%d%s/" % ["https" if url.tls else "http", url.host, url.port, url.path]
	var location: JavaScriptObject = window.get("location")
	var origin := str(location.get("origin"))
	var outcome: Array[int] = [0]  # 0: waiting, 1: something answered, 2: nothing did
	var answered := JavaScriptBridge.create_callback(func(_a: Array) -> void: outcome[0] = 1)
	var failed := JavaScriptBridge.create_callback(func(_a: Array) -> void: outcome[0] = 2)
	var init: JavaScriptObject = JavaScriptBridge.create_object("Object")
	init.set("mode", "no-cors")
	init.set("cache", "no-store")
	var promise: JavaScriptObject = window.call("fetch", server, init)
	promise.call("then", answered, failed)
	var give_up := Time.get_ticks_msec() + PROBE_MS
	while outcome[0] == 0 and Time.get_ticks_msec() < give_up:
		await (Engine.get_main_loop() as SceneTree).process_frame
	if outcome[0] == 1:
		unreachable = ORIGIN_REFUSED
		return (
			"the server answered, but the browser withheld its response: the server does not"
			+ " allow this page's origin %s (serve --web-cors-origin %s)" % [origin, origin]
		)
	if outcome[0] == 0:
		return _status_text()  # the probe did not finish: say nothing we do not know
	unreachable = NO_SERVER
	if not url.tls and origin.begins_with("https:"):
		return "this https:// page may not call an http:// server: serve it with TLS"
	var trust := " and that this browser trusts its certificate" if url.tls else ""
	return "nothing answers at %s: check that the server is running there%s" % [server, trust]


func _read_response() -> void:
	var headers := _lowercase(_http.get_response_headers_as_dictionary())
	var http_code := _http.get_response_code()
	if headers.has("grpc-status"):
		# Trailers-only: an error before any message comes as HTTP headers, with no body.
		_finish_with(headers)
	elif http_code != 200:
		_finish(_code_for_http(http_code), "HTTP %d from the server" % http_code)
	else:
		await _read_body()


# Decodes frames as chunks arrive, until the trailers (or the end of the body).
func _read_body() -> void:
	var frames := Frames.new()
	while _http.get_status() == HTTPClient.STATUS_BODY and not frames.error:
		var chunk := _http.read_response_body_chunk()
		if chunk.is_empty():
			if not await _tick():
				return
			continue
		for payload in frames.feed(chunk):
			message.emit(payload)
		if _cancelled:  # a message handler may cancel
			_finish(Code.CANCELLED, "cancelled")
			return
	if frames.error:
		_finish(Code.INTERNAL, "bad gRPC-Web body: " + frames.error)
	elif frames.has_trailers:
		_finish_with(frames.trailers)
	elif _http.get_status() != HTTPClient.STATUS_CONNECTED:
		_finish(Code.UNAVAILABLE, "connection lost mid-response (%s)" % _status_text())
	else:
		_finish(Code.INTERNAL, "the response ended without a grpc-status trailer")


# Polls the connection once per frame; false (and the call finished) on cancel or timeout.
func _tick() -> bool:
	await (Engine.get_main_loop() as SceneTree).process_frame
	if _cancelled:
		_finish(Code.CANCELLED, "cancelled")
		return false
	if _deadline >= 0 and Time.get_ticks_msec() > _deadline:
		_finish(Code.DEADLINE_EXCEEDED, "no complete answer before the timeout")
		return false
	_http.poll()
	return true


func _finish_with(fields: Dictionary) -> void:
	var status := int(fields.get("grpc-status", Code.UNKNOWN))
	var hint := str(fields.get("retry-after-ms", "")).strip_edges()
	if status == Code.RESOURCE_EXHAUSTED and hint.is_valid_int() and hint.to_int() >= 0:
		retry_after_ms = hint.to_int()
	# grpc-message is percent-encoded (it may hold any UTF-8).
	_finish(status as Code, str(fields.get("grpc-message", "")).uri_decode())


func _finish(status: Code, text: String) -> void:
	code = status
	details = text
	_http.close()


# The length-prefixed message: flag 0 (not compressed), big-endian uint32 length, bytes.
static func _frame(payload: PackedByteArray) -> PackedByteArray:
	var size := payload.size()
	var framed := PackedByteArray([0, size >> 24 & 0xFF, size >> 16 & 0xFF, size >> 8 & 0xFF])
	framed.append(size & 0xFF)
	framed.append_array(payload)
	return framed


# {tls, host, port, path} of "http(s)://host[:port][/path]"; empty if it is not one.
static func _parse_url(url: String) -> Dictionary:
	var tls := url.begins_with("https://")
	if not tls and not url.begins_with("http://"):
		return {}
	var rest := url.substr(8 if tls else 7)
	var slash := rest.find("/")
	var authority := rest if slash < 0 else rest.left(slash)
	var path := "" if slash < 0 else rest.substr(slash).trim_suffix("/")
	var colon := authority.rfind(":")
	var port := 443 if tls else 80
	if colon > 0 and authority.substr(colon + 1).is_valid_int():
		port = authority.substr(colon + 1).to_int()
		authority = authority.left(colon)
	return {"tls": tls, "host": authority, "port": port, "path": path}


# What the gRPC spec maps an HTTP status without grpc-status to.
static func _code_for_http(http_code: int) -> Code:
	match http_code:
		400:
			return Code.INTERNAL
		401:
			return Code.UNAUTHENTICATED
		403:
			return Code.PERMISSION_DENIED
		404:
			return Code.UNIMPLEMENTED
		429, 502, 503, 504:
			return Code.UNAVAILABLE
	return Code.UNKNOWN


static func _lowercase(headers: Dictionary) -> Dictionary:
	var lower := {}
	for name: String in headers:
		lower[name.to_lower()] = headers[name]
	return lower


func _status_text() -> String:
	match _http.get_status():
		HTTPClient.STATUS_CANT_RESOLVE:
			return "cannot resolve the host"
		HTTPClient.STATUS_CANT_CONNECT, HTTPClient.STATUS_CONNECTION_ERROR:
			# In a browser a refused CORS preflight, or a certificate the browser does not
			# trust, looks the same.
			return (
				"connection refused; in a web export, is this origin allowed by the server,"
				+ " and does the browser trust its certificate?"
			)
		HTTPClient.STATUS_TLS_HANDSHAKE_ERROR:
			return "TLS handshake failed (is the server's certificate signed by trusted_ca?)"
	return "HTTPClient status %d" % _http.get_status()
