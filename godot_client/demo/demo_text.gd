## What the demo says: the quest journal, the reply modes, tool-call statuses, what to do
## about each error, and the turn's plan for the writers' debug panel. No state: each is a
## constant or a static function of what the server sent, so tests check them directly.
extends RefCounted

const DialoguePb := preload("res://addons/npc_dialogue/proto/dialogue_pb.gd")
# gdlint:ignore = constant-name
const Code := NpcDialogue.Code  # an enum alias, so named like one

## The game's journal: each quest's name and each stage's objective (the game's own copy of
## examples/worlds/harbor/world.yaml; the server sends stage ids only).
const JOURNAL := {
	"noises_below":
	{
		"name": "Noises Below",
		"asked": "Ask Maren about the noises in the cellar.",
		"trusted": "Maren has given you a room. Ask her what is really below.",
		"done": "The boy is fed and safe. (complete)",
	},
}
const STREAM_HELP := (
	"Streaming: each sentence shows as soon as it has passed the lore check, so her first"
	+ " words come early. If the finished line had to be trimmed, the checked text replaces it."
)
const HOLD_HELP := (
	"Hold until checked (REPLY_MODE_HOLD): nothing shows until the whole line has passed the"
	+ " lore check, then it comes at once. Her first words come later; nothing is replaced."
)
## The call's status in LineDone.tool_calls, in words.
const TOOL_STATUS := {
	DialoguePb.ToolCallStatus.TOOL_CALL_STATUS_OK: "status OK",
	DialoguePb.ToolCallStatus.TOOL_CALL_STATUS_FAILED: "status FAILED (the game refused)",
	DialoguePb.ToolCallStatus.TOOL_CALL_STATUS_TIMED_OUT: "status TIMED_OUT (no answer in time)",
	DialoguePb.ToolCallStatus.TOOL_CALL_STATUS_REJECTED: "status REJECTED (the server refused)",
}


## What to tell the player (and the developer) about a failed call: what happened and
## what to do, then the details. [param unreachable] is NpcDialogue.unreachable;
## [param retry_after_ms] the busy server's hint (-1: none).
static func describe_problem(
	code: int, message: String, unreachable: StringName, url: String, retry_after_ms: int
) -> String:
	var details := "\nDetails: %s" % message if message != "" else ""
	return _what_to_do(code, unreachable, url, retry_after_ms) + details


static func _what_to_do(code: int, unreachable: StringName, url: String, retry_ms: int) -> String:
	match code:
		Code.UNAVAILABLE:
			match unreachable:
				&"no_server":
					return (
						"No server answers at %s. Start it (README.md, step 1) or fix the Npc" % url
						+ " node's server_url, then press Retry."
					)
				&"origin_refused":
					return (
						(
							"The server at %s is running, but it does not allow this page's origin."
							% url
						)
						+ " Restart it with --web-cors-origin set to it, then press Retry."
					)
				&"tls_failed":
					return (
						"The TLS handshake with %s failed: set the Npc node's trusted_ca_path" % url
						+ " to the server's certificate."
					)
			return "Cannot reach the server at %s. Press Retry." % url
		Code.UNAUTHENTICATED:
			return (
				"The server did not accept the client token. Set client_token_file to one of"
				+ " the server's client tokens; retrying with the same token will not help."
			)
		Code.PERMISSION_DENIED:
			return "This token may not do that. Starting the quest needs an admin token."
		Code.RESOURCE_EXHAUSTED:
			if retry_ms < 0:
				return "The server is busy (at capacity) and sent no retry hint: about a second."
			return "The server is busy (at capacity). Its retry hint: %.1f s." % (retry_ms / 1000.0)
		Code.DEADLINE_EXCEEDED:
			return "No complete answer in time. Press Retry."
	return "The call failed: %s (%d). Press Retry." % [Code.find_key(code), code]


## The turn's plan, check and timings, for the writers' debug panel.
static func plan_text(done: DialoguePb.LineDone) -> String:
	var lines := PackedStringArray(["The last turn's plan (LineDone.plan):"])
	var plan := done.plan
	if plan != null:
		lines.append(
			"act: %s   line read as: %s   tool: %s" % [plan.act, plan.line_kind, plan.tool]
		)
		lines.append("why: %s" % plan.why)
		lines.append("facts: %s" % (", ".join(plan.facts) if not plan.facts.is_empty() else "-"))
		var matches := PackedStringArray()
		for m in plan.matches:
			matches.append("%s %.2f" % [m.fact, m.score])
		lines.append("closest facts: %s" % ", ".join(matches))
		for i in plan.drafts.size():
			var draft := plan.drafts[i]
			var faults := ", ".join(draft.faults) if not draft.faults.is_empty() else "none"
			lines.append("draft %d: %s   faults: %s" % [i + 1, draft.text, faults])
		for step in plan.tool_trace:
			lines.append("tool trace: %s" % step)
	if done.check != null:
		var kinds := PackedStringArray()
		for violation in done.check.violations:
			kinds.append("%s (%s)" % [violation.kind, violation.text])
		var action: String = DialoguePb.CheckAction.find_key(done.check.action)
		lines.append(
			"check: %s, %d attempt(s); %s" % [action, done.check.attempts, ", ".join(kinds)]
		)
	if done.timings != null:
		var t := done.timings
		lines.append("timings: first text %.0f ms, total %.0f ms" % [t.ttft_ms, t.total_ms])
	return "\n".join(lines)
