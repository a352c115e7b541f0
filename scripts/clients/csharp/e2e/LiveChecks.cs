// The typed client against a live server (default world, real model): the flows
// the Unity sample runs, plus the errors a game must be able to tell apart.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Npc.V1;
using NpcRuntime.Client;

sealed class LiveChecks
{
    const string Stew = "I'll bring the boy some stew.";

    readonly NpcClient _client;
    // A fresh player per run, so the quest starts where this program puts it.
    readonly string _player = "unity-e2e-" + Guid.NewGuid().ToString("N").Substring(0, 8);
    string _session = "";

    public LiveChecks(Uri webAddress) => _client = NpcClient.ForGrpcWeb(webAddress);

    public IEnumerable<(string, Func<Task>)> All() => new (string, Func<Task>)[]
    {
        ("OpenSession with maren", OpenSession),
        ("Say streams tokens, then one line_done", StreamedLine),
        ("a give_item tool call round trip through SubmitToolResult", ToolCallRoundTrip),
        ("GetQuestState after the call", QuestStateAfterCall),
        ("saying a player option moves the quest", SayAnOption),
        ("server errors map to status codes with messages", Errors),
        ("cancelling a Say mid-stream; the session goes on", CancelMidStream),
        ("CloseSession, then the session is NotFound", CloseSession),
    };

    async Task OpenSession()
    {
        await _client.SetQuestStateAsync(_player, new QuestState { Stages = { ["noises_below"] = "asked" } });
        var opened = await _client.OpenSessionAsync("maren", "Traveller", _player);
        Check.That(opened.SessionId.Length > 0, "a session id");
        _session = opened.SessionId;
        Check.Equal("maren", opened.NpcId, "npc id");
        Console.WriteLine($"  session {opened.SessionId} with {opened.NpcName}");
    }

    async Task StreamedLine()
    {
        var clock = Stopwatch.StartNew();
        var tokens = new List<(long Ms, string Text)>();
        var events = new List<SayResponse>();
        long doneMs = 0;
        await foreach (var e in _client.SayAsync(_session, "Good evening! How much for a room?", toolChoice: "none"))
        {
            events.Add(e);
            if (e.EventCase == SayResponse.EventOneofCase.Token)
                tokens.Add((clock.ElapsedMilliseconds, e.Token.Text));
            if (e.EventCase == SayResponse.EventOneofCase.LineDone)
                doneMs = clock.ElapsedMilliseconds;
        }
        var done = events.Last().LineDone;
        Check.That(tokens.Count > 0, "token events");
        Check.Equal(SayResponse.EventOneofCase.LineDone, events.Last().EventCase, "last event");
        Check.Equal(1, events.Count(e => e.EventCase == SayResponse.EventOneofCase.LineDone), "line_done count");
        Check.That(done.Text.Trim().Length > 0, "a line");
        Console.WriteLine($"  {tokens.Count} tokens, first at {tokens[0].Ms} ms, line_done at {doneMs} ms" +
                          $" (server ttft {done.Timings.TtftMs:F0} ms): {done.Text}");
        // Streamed, not buffered: tokens came over a span of time, before line_done.
        if (done.Timings.GeneratedTokens >= 4)
            Check.That(doneMs - tokens[0].Ms >= 10, "tokens to arrive before line_done, not all at once");
    }

    async Task ToolCallRoundTrip()
    {
        ToolCall? call = null;
        var afterCall = 0;
        LineDone? done = null;
        await foreach (var e in _client.SayAsync(_session, "Can I have a room key for the night?", toolChoice: "give_item"))
        {
            switch (e.EventCase)
            {
                case SayResponse.EventOneofCase.ToolCall:
                    call = e.ToolCall;
                    Check.Equal(ToolExecutor.Engine, call.Executor, "executor");
                    Check.Equal("give_item", call.Tool, "tool");
                    Check.That(call.ArgumentsJson.Contains("room_key"), "room_key in " + call.ArgumentsJson);
                    // The game hands the key over, then tells the server; the stream waits for this.
                    await _client.SubmitToolResultAsync(_session, call.CallId, "{\"given\": true}");
                    break;
                case SayResponse.EventOneofCase.LineDone:
                    done = e.LineDone;
                    afterCall++;
                    break;
                default:
                    if (call != null)
                        afterCall++;
                    break;
            }
        }
        Check.That(call != null, "a tool_call event");
        Check.That(done != null && afterCall > 0, "the stream to go on after SubmitToolResult");
        var outcome = done!.ToolCalls.Single();
        Check.Equal(call!.CallId, outcome.CallId, "call id");
        Check.Equal(ToolCallStatus.Ok, outcome.Status, "status");
        Check.That(outcome.Changes.Contains("noises_below: asked -> trusted"), "the quest change, got " + outcome.Changes);
        Check.That(done.Options.Contains(Stew), "the player option at the new stage, got " + done.Options);
        Console.WriteLine($"  {call.Tool}({call.ArgumentsJson}) -> {outcome.Status}, {string.Join("; ", outcome.Changes)}: {done.Text}");
    }

    async Task QuestStateAfterCall()
    {
        var state = await _client.GetQuestStateAsync(_player);
        Check.Equal("trusted", state.Stages["noises_below"], "stage");
        Check.That(state.PlayerItems.Contains("room_key"), "room_key among the player's items");
    }

    async Task SayAnOption()
    {
        var events = new List<SayResponse>();
        await foreach (var e in _client.SayAsync(_session, Stew))
            events.Add(e);
        var done = events.Last().LineDone;
        Check.That(done.QuestChanges.Contains("noises_below: trusted -> done"), "the option's quest change, got " + done.QuestChanges);
        Check.Equal(0, done.Options.Count, "options after the quest ended");
    }

    async Task Errors()
    {
        var unknown = await Check.Throws<GrpcStatusException>(() => Drain(_client.SayAsync("no-such-session", "Hello?")));
        Check.Equal(StatusCode.NotFound, unknown.Code, "unknown session");
        Check.That(unknown.Detail.Length > 0, "a message for the unknown session");

        var empty = await Check.Throws<GrpcStatusException>(() => Drain(_client.SayAsync(_session, "")));
        Check.Equal(StatusCode.InvalidArgument, empty.Code, "empty text");
        Check.That(empty.Detail.Length > 0, "a message for empty text");

        var npc = await Check.Throws<GrpcStatusException>(() => _client.OpenSessionAsync("nobody"));
        Check.Equal(StatusCode.NotFound, npc.Code, "unknown NPC");
        Check.That(npc.Detail.Contains("maren"), "the NPCs that exist in: " + npc.Detail);

        var quest = await Check.Throws<GrpcStatusException>(() =>
            _client.SetQuestStateAsync(_player, new QuestState { Stages = { ["nope"] = "asked" } }));
        Check.Equal(StatusCode.InvalidArgument, quest.Code, "unknown quest");
        Check.That(quest.Detail.Contains("nope"), "the quest named in: " + quest.Detail);

        var call = await Check.Throws<GrpcStatusException>(() => _client.SubmitToolResultAsync(_session, "no-such-call", "{}"));
        Check.Equal(StatusCode.NotFound, call.Code, "unknown tool call");
        Console.WriteLine($"  e.g. {unknown.Code}: {unknown.Detail} | {empty.Code}: {empty.Detail}");
    }

    async Task CancelMidStream()
    {
        using var cancel = new CancellationTokenSource();
        var clock = Stopwatch.StartNew();
        long cancelledAt = 0;
        await Check.Throws<OperationCanceledException>(async () =>
        {
            await foreach (var e in _client.SayAsync(_session, "Tell me everything about the town.", "none", cancel.Token))
            {
                if (e.EventCase == SayResponse.EventOneofCase.Token && cancelledAt == 0)
                {
                    cancelledAt = clock.ElapsedMilliseconds;
                    cancel.Cancel();
                }
            }
        });
        var ended = clock.ElapsedMilliseconds - cancelledAt;
        Check.That(cancelledAt > 0 && ended < 2000, $"the call to end soon after cancelling (took {ended} ms)");
        var events = new List<SayResponse>();
        await foreach (var e in _client.SayAsync(_session, "Good night, then.", "none"))
            events.Add(e);
        Check.Equal(SayResponse.EventOneofCase.LineDone, events.Last().EventCase, "the next turn's last event");
    }

    async Task CloseSession()
    {
        await _client.CloseSessionAsync(_session);
        var error = await Check.Throws<GrpcStatusException>(() => Drain(_client.SayAsync(_session, "Hello?")));
        Check.Equal(StatusCode.NotFound, error.Code, "closed session");
    }

    static async Task Drain(IAsyncEnumerable<SayResponse> events)
    {
        await foreach (var _ in events)
        {
        }
    }
}
