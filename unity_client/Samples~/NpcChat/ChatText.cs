// Plain C# (no UnityEngine): CI compiles it against the package and plays it on .NET
// against a live server (scripts/clients/csharp/e2e/SamplePlay.cs).
//
// What the sample says: the quest journal, the reply modes, tool-call statuses, what to do
// about each error, and the turn's plan for the writers' debug panel. No state: each is a
// constant or a static function of what the server sent.
#nullable enable
using System;
using System.Collections.Generic;
using System.Linq;
using Npc.V1;
using NpcRuntime.Client;

namespace NpcRuntime.Samples
{
    public static class ChatText
    {
        /// <summary>
        /// The game's journal: each quest's name and each stage's objective (the game's own
        /// copy of examples/worlds/harbor/world.yaml; the server sends stage ids only).
        /// </summary>
        public static readonly IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> Journal =
            new Dictionary<string, IReadOnlyDictionary<string, string>>
            {
                ["noises_below"] = new Dictionary<string, string>
                {
                    ["name"] = "Noises Below",
                    ["asked"] = "Ask Maren about the noises in the cellar.",
                    ["trusted"] = "Maren has given you a room. Ask her what is really below.",
                    ["done"] = "The boy is fed and safe. (complete)",
                },
            };

        public const string StreamHelp =
            "Streaming: each sentence shows as soon as it has passed the lore check, so her first " +
            "words come early. If the finished line had to be trimmed, the checked text replaces it.";

        public const string HoldHelp =
            "Hold until checked (REPLY_MODE_HOLD): nothing shows until the whole line has passed the " +
            "lore check, then it comes at once. Her first words come later; nothing is replaced.";

        /// <summary>The call's status in LineDone.ToolCalls, in words.</summary>
        public static string ToolStatus(ToolCallStatus status)
        {
            switch (status)
            {
                case ToolCallStatus.Ok: return "status OK";
                case ToolCallStatus.Failed: return "status FAILED (the game refused)";
                case ToolCallStatus.TimedOut: return "status TIMED_OUT (no answer in time)";
                case ToolCallStatus.Rejected: return "status REJECTED (the server refused)";
                default: return "status " + status;
            }
        }

        /// <summary>"Noises Below: stage asked" (or "not started").</summary>
        public static string StageLine(string quest, string stage)
        {
            var name = Journal.TryGetValue(quest, out var entry) && entry.TryGetValue("name", out var n) ? n : quest;
            return stage.Length == 0 ? name + ": not started" : $"{name}: stage {stage}";
        }

        /// <summary>"Objective: ..." for the stage ("" before the quest starts).</summary>
        public static string ObjectiveLine(string quest, string stage)
        {
            if (stage.Length == 0)
                return "";
            var objective = Journal.TryGetValue(quest, out var entry) && entry.TryGetValue(stage, out var o)
                ? o : "(not in the journal)";
            return "Objective: " + objective;
        }

        /// <summary>
        /// What to tell the player (and the developer) about a failed call: what happened and
        /// what to do, then the details. <paramref name="url"/> is the server's address.
        /// </summary>
        public static string DescribeProblem(Exception error, string url)
        {
            if (error is ArgumentException || error is UriFormatException)
                return "A setting of NPC Dialogue is wrong (Server Url, Access Token or Ca Certificate): " +
                       error.Message;
            if (!(error is GrpcStatusException status))
                return $"The client failed: {error.GetType().Name}: {error.Message}";
            var details = status.Detail.Length > 0 ? "\nDetails: " + status.Detail : "";
            return WhatToDo(status, url) + details;
        }

        static string WhatToDo(GrpcStatusException error, string url)
        {
            switch (error.Code)
            {
                case StatusCode.Unavailable when error.Detail.Contains("TLS") || error.Detail.Contains("certificate"):
                    return $"The TLS handshake with {url} failed: set NPC Dialogue's Ca Certificate to the " +
                           "server's certificate (or its CA), and use a host name it names.";
                case StatusCode.Unavailable:
                    return $"No server answers at {url}. Start it (README, step 1) or fix NPC Dialogue's " +
                           "Server Url, then press Retry.";
                case StatusCode.Unauthenticated:
                    return "The server did not accept the access token. Set NPC Dialogue's Access Token to one " +
                           "of the server's client tokens; retrying with the same token will not help.";
                case StatusCode.PermissionDenied:
                    return "This token may not do that. Starting the quest needs an admin token " +
                           "(the sample's Admin Token, for development; a game does it from its backend).";
                case StatusCode.ResourceExhausted:
                    return error.RetryAfter.HasValue
                        ? $"The server is busy (at capacity). Its retry hint: {error.RetryAfter.Value.TotalSeconds:0.0} s."
                        : "The server is busy (at capacity) and sent no retry hint: about a second.";
                case StatusCode.DeadlineExceeded:
                    return "No complete answer in time. Press Retry.";
                case StatusCode.NotFound:
                    return "The server does not know this conversation (it restarted, or forgot an idle one). " +
                           "Press Retry to open a new one.";
                default:
                    return $"The call failed: {error.Code} ({(int)error.Code}). Press Retry.";
            }
        }

        /// <summary>The turn's plan, check and timings, for the writers' debug panel.</summary>
        public static string PlanText(LineDone done)
        {
            var lines = new List<string> { "The last turn's plan (LineDone.plan):" };
            var plan = done.Plan;
            if (plan != null)
            {
                lines.Add($"act: {plan.Act}   line read as: {plan.LineKind}   tool: {plan.Tool}");
                lines.Add("why: " + plan.Why);
                lines.Add("facts: " + (plan.Facts.Count > 0 ? string.Join(", ", plan.Facts) : "-"));
                lines.Add("closest facts: " + string.Join(", ", plan.Matches.Select(m => $"{m.Fact} {m.Score:0.00}")));
                for (var i = 0; i < plan.Drafts.Count; i++)
                {
                    var faults = plan.Drafts[i].Faults.Count > 0 ? string.Join(", ", plan.Drafts[i].Faults) : "none";
                    lines.Add($"draft {i + 1}: {plan.Drafts[i].Text}   faults: {faults}");
                }
                lines.AddRange(plan.ToolTrace.Select(step => "tool trace: " + step));
            }
            if (done.Check != null)
            {
                var kinds = string.Join(", ", done.Check.Violations.Select(v => $"{v.Kind} ({v.Text})"));
                lines.Add($"check: CHECK_ACTION_{ScreamingCase(done.Check.Action.ToString())}, " +
                          $"{done.Check.Attempts} attempt(s); {kinds}");
            }
            if (done.Timings != null)
                lines.Add($"timings: first text {done.Timings.TtftMs:0} ms, total {done.Timings.TotalMs:0} ms");
            return string.Join("\n", lines);
        }

        // "Regenerated" -> "REGENERATED", "NotFound" -> "NOT_FOUND": the proto's own names.
        static string ScreamingCase(string name) =>
            string.Concat(name.Select((c, i) => i > 0 && char.IsUpper(c) ? "_" + c : char.ToUpperInvariant(c).ToString()));
    }
}
