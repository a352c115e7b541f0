// The Unity sample's rules and texts (Samples~/NpcChat: ChatRules, ChatText) without a
// server: which tool calls the game refuses and why, what it undoes, and what it says for
// each error. SamplePlay.cs plays the whole game against a live server.
using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using Npc.V1;
using NpcRuntime.Client;
using NpcRuntime.Samples;

static class SampleRulesChecks
{
    public static IEnumerable<(string, Func<Task>)> All() => new (string, Func<Task>)[]
    {
        ("sample rules: an item is handed over only when asked for and affordable", Decisions),
        ("sample rules: running and undoing a call; give_item's arguments read leniently", RunAndUndo),
        ("sample texts: each error says what to do, in its own words", Problems),
    };

    static Task Decisions()
    {
        var rules = new ChatRules();
        var key = new GiveItem("room_key", 1);
        rules.BeginTurn("Good evening!");
        Check.Equal("the player did not ask for the room key", rules.Refusal("give_item", key), "unasked");
        rules.BeginTurn("Do you have a ROOM for me?");
        Check.Equal("", rules.Refusal("give_item", key), "a line that names it");
        rules.BeginTurn("Can I have it?", "room_key");
        Check.Equal("", rules.Refusal("give_item", key), "the button's item");
        Check.Equal("this game cannot do open_door", rules.Refusal("open_door", key), "another tool");
        Check.Equal("the game has no item sword", rules.Refusal("give_item", new GiveItem("sword", 1)), "an unknown item");
        rules.BeginTurn("Two bowls of stew, please.");
        Check.Equal("the player cannot afford the eel stew (8 copper; they have 6)",
            rules.Refusal("give_item", new GiveItem("eel_stew", 4)), "too dear");
        return Task.CompletedTask;
    }

    static Task RunAndUndo()
    {
        var rules = new ChatRules();
        rules.BeginTurn("A key, please.");
        var key = GiveItem.Parse("{\"item\": \"room_key\", \"count\": 1}");
        var result = rules.Run(key);
        Check.That(result.Contains("\"given\": true") && result.Contains("\"paid\": 5"), "the result sent: " + result);
        Check.Equal(1, rules.Purse, "purse after paying");
        Check.Equal("room_key", string.Join(",", rules.Inventory), "inventory");
        Check.Equal("the player did not ask for the room key", rules.Refusal("give_item", key), "asked once, handed once");
        rules.Undo(key);
        Check.Equal(6, rules.Purse, "purse after the undo");
        Check.Equal(0, rules.Inventory.Count, "inventory after the undo");
        Check.Equal(("", 1), (GiveItem.Parse("not json").Item, GiveItem.Parse("not json").Count), "malformed JSON");
        Check.Equal(1, GiveItem.Parse("{\"item\": \"eel_stew\", \"count\": \"two\"}").Count, "a count that is no number");
        Check.Equal(1, GiveItem.Parse("{\"item\": \"eel_stew\", \"count\": 0}").Count, "at least one");
        return Task.CompletedTask;
    }

    static Task Problems()
    {
        const string url = "https://npc.test:8080/";
        string Say(StatusCode code, string detail = "", TimeSpan? retryAfter = null) =>
            ChatText.DescribeProblem(new GrpcStatusException(code, detail, retryAfter: retryAfter), url);
        var said = new Dictionary<string, string>
        {
            ["no server"] = Say(StatusCode.Unavailable, "Connection refused"),
            ["TLS"] = Say(StatusCode.Unavailable, "the server's TLS certificate was refused: not issued by the given CA"),
            ["token"] = Say(StatusCode.Unauthenticated, "unknown token"),
            ["role"] = Say(StatusCode.PermissionDenied, "SetQuestState needs role admin"),
            ["busy"] = Say(StatusCode.ResourceExhausted, "at capacity", TimeSpan.FromMilliseconds(1500)),
            ["busy, no hint"] = Say(StatusCode.ResourceExhausted),
            ["gone"] = Say(StatusCode.NotFound, "no open session"),
            ["settings"] = ChatText.DescribeProblem(new ArgumentException("the access token must be printable ASCII"), url),
        };
        Check.That(said["no server"].StartsWith("No server answers at " + url), said["no server"]);
        Check.That(said["no server"].EndsWith("\nDetails: Connection refused"), "the details last: " + said["no server"]);
        Check.That(said["TLS"].StartsWith("The TLS handshake with " + url + " failed"), said["TLS"]);
        Check.That(said["token"].StartsWith("The server did not accept the access token"), said["token"]);
        Check.That(said["role"].Contains("needs an admin token"), said["role"]);
        Check.That(said["busy"].StartsWith("The server is busy (at capacity). Its retry hint: 1.5 s."), said["busy"]);
        Check.That(said["busy, no hint"].Contains("sent no retry hint"), said["busy, no hint"]);
        Check.That(said["gone"].Contains("Press Retry to open a new one"), said["gone"]);
        Check.That(said["settings"].StartsWith("A setting of NPC Dialogue is wrong"), said["settings"]);
        var firstLines = said.Values.Select(text => text.Split('\n')[0]).ToList();
        Check.Equal(firstLines.Count, firstLines.Distinct().Count(), "each case in its own words");
        Check.Equal("Noises Below: stage trusted", ChatText.StageLine("noises_below", "trusted"), "stage line");
        Check.Equal("Objective: The boy is fed and safe. (complete)", ChatText.ObjectiveLine("noises_below", "done"), "objective");
        Check.Equal("status FAILED (the game refused)", ChatText.ToolStatus(ToolCallStatus.Failed), "a status in words");
        var plan = ChatText.PlanText(new LineDone
        {
            Plan = new ReplyPlan { Act = "answer", Why = "asked about the room" },
            Check = new CheckReport { Action = CheckAction.Passed, Attempts = 1 },
        });
        Check.That(plan.Contains("why: asked about the room") && plan.Contains("check: CHECK_ACTION_PASSED, 1 attempt(s)"),
            "the plan panel: " + plan);
        return Task.CompletedTask;
    }
}
