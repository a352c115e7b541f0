// The typed client against a live server (default world, real model): the flows
// the Unity sample runs, plus the errors a game must be able to tell apart. With a
// token (and a CA for https), first what a server with tokens and TLS must refuse;
// then every flow runs with the client token, quest setup with the admin token.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Security.Cryptography.X509Certificates;
using System.Threading;
using System.Threading.Tasks;
using Npc.V1;
using NpcRuntime.Client;

sealed class LiveChecks
{
    const string Stew = "I'll bring the boy some stew.";

    readonly Uri _web;
    readonly string? _token;
    readonly string? _caPem;
    readonly bool _capacity;
    // Talks with the client token (or none, on a server without tokens).
    readonly NpcClient _client;
    // Sets quest state: the admin token (on a server without tokens, the same client).
    readonly NpcClient _admin;
    // A fresh player per run, so the quest starts where this program puts it.
    readonly string _player = "unity-e2e-" + Guid.NewGuid().ToString("N").Substring(0, 8);
    string _session = "";

    public LiveChecks(Uri webAddress, string? token = null, string? adminToken = null, string? caPem = null,
        bool capacity = false)
    {
        _web = webAddress;
        _token = token;
        _caPem = caPem;
        _capacity = capacity;
        _client = NpcClient.ForGrpcWeb(webAddress, new NpcClientOptions { AccessToken = token, CaCertificatePem = caPem });
        _admin = adminToken == null ? _client
            : NpcClient.ForGrpcWeb(webAddress, new NpcClientOptions { AccessToken = adminToken, CaCertificatePem = caPem });
    }

    public IEnumerable<(string, Func<Task>)> All()
    {
        var checks = new List<(string, Func<Task>)>();
        if (_web.Scheme == Uri.UriSchemeHttps)
            checks.AddRange(new (string, Func<Task>)[]
            {
                ("https: a certificate the client was not given is refused", UntrustedCertificate),
                ("https: a CA that did not issue the server's certificate is refused", WrongCa),
                ("http:// to the https-only port is Unavailable", PlainHttpToTls),
            });
        if (_token != null)
            checks.AddRange(new (string, Func<Task>)[]
            {
                ("no token -> Unauthenticated", NoToken),
                ("an unknown token -> Unauthenticated", UnknownToken),
                ("client token -> dialogue works", ClientTokenWorks),
                ("client token -> SetQuestState is PermissionDenied", ClientTokenCannotSetQuestState),
            });
        checks.AddRange(new (string, Func<Task>)[]
        {
            ("OpenSession with maren", OpenSession),
            ("Say streams tokens, then one line_done", StreamedLine),
            ("a give_item tool call round trip through SubmitToolResult", ToolCallRoundTrip),
            ("GetQuestState after the call", QuestStateAfterCall),
            ("saying a player option moves the quest", SayAnOption),
            ("server errors map to status codes with messages", Errors),
            ("cancelling a Say mid-stream; the session goes on", CancelMidStream),
            ("CloseSession, then the session is NotFound", CloseSession),
            ("x-npc-session on every call of two conversations, keys printed for the logs", AffinityKeys),
        });
        if (_capacity)
            checks.Add(("over capacity -> ResourceExhausted with a retry-after hint", OverCapacity));
        return checks;
    }

    NpcClient With(string? token, string? caPem) =>
        NpcClient.ForGrpcWeb(_web, new NpcClientOptions { AccessToken = token, CaCertificatePem = caPem });

    async Task UntrustedCertificate()
    {
        using var client = With(_token, null);
        var error = await Check.Throws<GrpcStatusException>(() => client.OpenSessionAsync("maren"));
        Check.Equal(StatusCode.Unavailable, error.Code, "code");
        Check.That(error.Message.Contains("CaCertificatePem"), "a hint to give the CA: " + error.Message);
        Console.WriteLine("  " + error.Message);
    }

    async Task WrongCa()
    {
        using var other = TlsChecks.Make("CN=Someone else's CA", isCa: true);
        using var client = With(_token, ServerCertificateValidator.ToPem(other));
        var error = await Check.Throws<GrpcStatusException>(() => client.OpenSessionAsync("maren"));
        Check.Equal(StatusCode.Unavailable, error.Code, "code");
        Check.That(error.Detail.Contains("not issued by the given CA"), "why, in: " + error.Detail);
        Console.WriteLine("  " + error.Message);
    }

    async Task PlainHttpToTls()
    {
        using var client = NpcClient.ForGrpcWeb(new UriBuilder(_web) { Scheme = "http" }.Uri,
            new NpcClientOptions { AccessToken = _token });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var error = await Check.Throws<GrpcStatusException>(() => client.OpenSessionAsync("maren", cancellationToken: timeout.Token));
        Check.Equal(StatusCode.Unavailable, error.Code, "code");
        Console.WriteLine("  " + error.Message);
    }

    async Task NoToken()
    {
        using var client = With(null, _caPem);
        var open = await Check.Throws<GrpcStatusException>(() => client.OpenSessionAsync("maren"));
        Check.Equal(StatusCode.Unauthenticated, open.Code, "OpenSession without a token");
        Check.That(open.Message.Contains("AccessToken"), "a hint to set the token: " + open.Message);
        // A stream is refused before its first message (trailers-only) just the same.
        var say = await Check.Throws<GrpcStatusException>(() => Drain(client.SayAsync("any-session", "Hello?")));
        Check.Equal(StatusCode.Unauthenticated, say.Code, "Say without a token");
        Console.WriteLine("  " + open.Message);
    }

    async Task UnknownToken()
    {
        var guess = "not-a-token-" + Guid.NewGuid().ToString("N");
        using var client = With(guess, _caPem);
        var error = await Check.Throws<GrpcStatusException>(() => client.GetQuestStateAsync(_player));
        Check.Equal(StatusCode.Unauthenticated, error.Code, "code");
        Check.That(!error.Message.Contains(guess), "the token not in the message");
    }

    async Task ClientTokenWorks()
    {
        var opened = await _client.OpenSessionAsync("maren", "Traveller", _player + "-probe");
        Check.That(opened.SessionId.Length > 0, "a session id");
        var state = await _client.GetQuestStateAsync(_player + "-probe");
        Check.Equal(0, state.Stages.Count, "a new player's quests");
        await _client.CloseSessionAsync(opened.SessionId);
    }

    async Task ClientTokenCannotSetQuestState()
    {
        var error = await Check.Throws<GrpcStatusException>(() =>
            _client.SetQuestStateAsync(_player, new QuestState { Stages = { ["noises_below"] = "asked" } }));
        Check.Equal(StatusCode.PermissionDenied, error.Code, "code");
        Check.That(error.Message.Contains("admin"), "a hint about the role: " + error.Message);
        Console.WriteLine("  " + error.Message);
    }

    async Task OpenSession()
    {
        await _admin.SetQuestStateAsync(_player, new QuestState { Stages = { ["noises_below"] = "asked" } });
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
            _admin.SetQuestStateAsync(_player, new QuestState { Stages = { ["nope"] = "asked" } }));
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

    /// <summary>
    /// Two conversations whose every call carries x-npc-session: one of a player (the key
    /// is the player id), one without a player id (a random key). Prints both keys on an
    /// "AFFINITY" line; the Python test finds them on the server's log lines of each call.
    /// </summary>
    async Task AffinityKeys()
    {
        var player = _player + "-affinity";
        await _admin.SetQuestStateAsync(player, new QuestState { Stages = { ["noises_below"] = "asked" } });
        var opened = await _client.OpenSessionAsync("maren", "Traveller", player);
        Check.Equal(player, _client.AffinityKeyOf(opened.SessionId), "the player's key");
        var answered = false;
        await foreach (var e in _client.SayAsync(opened.SessionId, "Can I have a room key for the night?", "give_item"))
            if (e.EventCase == SayResponse.EventOneofCase.ToolCall)
            {
                await _client.SubmitToolResultAsync(opened.SessionId, e.ToolCall.CallId, "{\"given\": true}");
                answered = true;
            }
        Check.That(answered, "a tool call answered");
        await _client.GetQuestStateAsync(player);
        await _client.CloseSessionAsync(opened.SessionId);

        var anonymous = await _client.OpenSessionAsync("maren");
        var random = _client.AffinityKeyOf(anonymous.SessionId);
        Check.That(random != null && random.Length == 32, "a random key: " + random);
        await Drain(_client.SayAsync(anonymous.SessionId, "Good evening!", "none"));
        await _client.GetQuestStateAsync(anonymous.SessionId);
        await _client.CloseSessionAsync(anonymous.SessionId);
        Console.WriteLine($"  AFFINITY player={player} random={random}");
    }

    /// <summary>
    /// One turn holds the only place (it waits for the game to answer its tool call);
    /// two more lines at once: one may wait in line (at most the queue timeout), the
    /// other is refused at once, with the server's retry-after-ms.
    /// </summary>
    async Task OverCapacity()
    {
        var holder = _player + "-holder";
        await _admin.SetQuestStateAsync(holder, new QuestState { Stages = { ["noises_below"] = "asked" } });
        var busy = await _client.OpenSessionAsync("maren", "Traveller", holder);
        var others = new[]
        {
            await _client.OpenSessionAsync("maren", "Traveller", _player + "-b"),
            await _client.OpenSessionAsync("maren", "Traveller", _player + "-c"),
        };
        var stream = _client.SayAsync(busy.SessionId, "Can I have a room key for the night?", "give_item").GetAsyncEnumerator();
        try
        {
            ToolCall? call = null;
            while (call == null && await stream.MoveNextAsync())
                if (stream.Current.EventCase == SayResponse.EventOneofCase.ToolCall)
                    call = stream.Current.ToolCall;
            Check.That(call != null, "the holding turn's tool call");

            var clock = Stopwatch.StartNew();
            var outcomes = await Task.WhenAll(others.Select(async other =>
            {
                try
                {
                    await Drain(_client.SayAsync(other.SessionId, "Hello?", "none"));
                    return (Error: (GrpcStatusException?)null, Ms: clock.ElapsedMilliseconds);
                }
                catch (GrpcStatusException e)
                {
                    return (Error: e, Ms: clock.ElapsedMilliseconds);
                }
            }));
            var refused = outcomes.Where(o => o.Error?.Code == StatusCode.ResourceExhausted).OrderBy(o => o.Ms).ToArray();
            Check.That(refused.Length > 0, "a ResourceExhausted, got " + string.Join("; ", outcomes.Select(o => o.Error?.Message ?? "a line")));
            var first = refused[0].Error!;
            Check.That(first.RetryAfter > TimeSpan.Zero, "a retry-after-ms hint, got " + first.RetryAfter);
            Check.That(first.IsRetryable && first.Message.Contains("retry in"), "the wait in the message: " + first.Message);
            Check.That(refused[0].Ms < 5000, $"refused fast, not after {refused[0].Ms} ms");
            Console.WriteLine($"  after {refused[0].Ms} ms: {first.Message}");

            await _client.SubmitToolResultAsync(busy.SessionId, call!.CallId, "{\"given\": true}");
            SayResponse? last = null;
            while (await stream.MoveNextAsync())
                last = stream.Current;
            Check.Equal(SayResponse.EventOneofCase.LineDone, last?.EventCase, "the holding turn ends with its line");
        }
        finally
        {
            await stream.DisposeAsync();
        }
    }

    static async Task Drain(IAsyncEnumerable<SayResponse> events)
    {
        await foreach (var _ in events)
        {
        }
    }
}
