// The NPC Chat sample's game (unity_client/Samples~/NpcChat: ChatGame, ChatRules,
// ChatText, the code behind its screen) played as a player would, against a live server
// with the real model: it reads what the screen would show after each step. The server
// runs with one turn place (--max-active-turns 1 --max-queued-turns 0) so that another
// player can make it busy, and the game reaches it through a PortGate, a port this
// program opens and closes, so that the server is missing, there, gone, and back.
//
//   NPC_E2E_TOKEN=... NPC_E2E_ADMIN_TOKEN=... NPC_E2E_CA_FILE=cert.pem \
//     dotnet NpcE2E.dll https://localhost:WEB_PORT/ --play
using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using System.Threading.Tasks;
using Npc.V1;
using NpcRuntime.Client;
using NpcRuntime.Samples;

sealed class SamplePlay : IDisposable
{
    const string Speaker = "Maren Ashveil";
    const string Stew = "I'll bring the boy some stew."; // the quest's player option at stage trusted
    static readonly Regex EmptySpeaker = new Regex($"^({Speaker}|maren):\\s*$", RegexOptions.Multiline);

    readonly Uri _server;
    readonly string? _token;
    readonly string? _adminToken;
    readonly string? _caPem;
    readonly PortGate _gate;
    readonly Uri _url; // the server, through the gate
    readonly NpcClient _client;
    readonly NpcClient _admin;
    readonly ChatGame _game;
    readonly object _lock = new object();
    readonly List<string> _emptySpeaker = new List<string>(); // screens with a speaker and no words
    readonly List<string> _late = new List<string>(); // screens where the inventory moved but the log did not
    HashSet<string>? _shown; // while recording: every line shown as it streamed
    bool _held; // while recording: the status said the line is held

    public SamplePlay(Uri server, string? token, string? adminToken, string? caPem)
    {
        _server = server;
        _token = token;
        _adminToken = adminToken;
        _caPem = caPem;
        _gate = new PortGate(server.Port);
        _url = new UriBuilder(server) { Port = _gate.Port }.Uri;
        _client = Client(_url, token);
        _admin = adminToken == null ? _client : Client(_url, adminToken);
        _game = Game(_client, _admin);
        _game.Changed += Watch;
    }

    public IEnumerable<(string, Func<Task>)> All() => new (string, Func<Task>)[]
    {
        ("sample: no server says what to do; Retry connects and shows the stage", NoServerThenRetry),
        ("sample: a typed line streams in as her line", TypedLine),
        ("sample: the room key's tool call, accepted, moves the stage asked -> trusted", RoomKeyAccepted),
        ("sample: the option's button finishes the quest, trusted -> done", OptionFinishesTheQuest),
        ("sample: the stew the player cannot pay for is refused, the reason sent back", StewRefused),
        ("sample: hold until checked shows only whole lines; the plan panel", HoldAndPlan),
        ("sample: a busy server's retry hint, then the line goes through", BusyServer),
        ("sample: the server gone mid-conversation, then Retry says the line again", ServerGone),
        ("sample: an unknown token, a client token starting the quest: their own messages", WrongTokens),
        ("sample: never a speaker line without words; the log never lags the inventory", NothingOddShown),
    };

    public void Dispose()
    {
        _game.Dispose();
        _gate.Dispose();
    }

    NpcClient Client(Uri url, string? token) =>
        NpcClient.ForGrpcWeb(url, new NpcClientOptions { AccessToken = token, CaCertificatePem = _caPem });

    ChatGame Game(NpcClient client, NpcClient admin) => new ChatGame(client, new ChatSettings
    {
        ServerUrl = _url.ToString(), NpcId = "maren",
        PlayerId = "unity-sample-" + Guid.NewGuid().ToString("N").Substring(0, 8),
    }, admin);

    void Watch()
    {
        lock (_lock)
        {
            var log = _game.LogText;
            if (EmptySpeaker.IsMatch(log))
                _emptySpeaker.Add(log);
            if (_game.InventoryText.Contains("room key") && !log.Contains("hands you: room key"))
                _late.Add(log);
            if (_shown != null && _game.CurrentLine.Length > 0)
                _shown.Add(_game.CurrentLine.Trim());
            _held |= _game.StatusText.Contains("held until");
        }
    }

    /// <summary>Her line after the player's <paramref name="line"/>, as the log shows it; null when none.</summary>
    string? Reply(string line)
    {
        var log = _game.LogText;
        var said = log.LastIndexOf("You: " + line + "\n", StringComparison.Ordinal);
        var at = said < 0 ? -1 : log.IndexOf("\n" + Speaker + ": ", said, StringComparison.Ordinal);
        return at < 0 ? null : log.Substring(at + Speaker.Length + 3).Split('\n')[0];
    }

    async Task<string> Say(string line, string toolChoice = "", string item = "")
    {
        await _game.SayAsync(line, toolChoice, item);
        var reply = Reply(line);
        Check.That(reply != null && reply.Trim().Length > 0, $"her reply to '{line}'; the screen:\n{_game.LogText}\n{_game.ProblemText}");
        Check.That(_game.CanType && _game.ProblemText.Length == 0, "ready for the next line: " + _game.ProblemText);
        return reply!;
    }

    async Task NoServerThenRetry()
    {
        Check.That(!await _game.StartAsync(), "not ready without a server");
        Check.That(_game.ProblemText.StartsWith($"No server answers at {_url}"), "what to do: " + _game.ProblemText);
        Check.That(_game.CanRetry, "a Retry button");
        Check.Equal("maren: not connected", _game.Title, "title");
        _gate.Open();
        await _game.RetryAsync();
        Check.Equal("", _game.ProblemText, "no problem after Retry");
        Check.Equal(Speaker, _game.Title, "title");
        Check.Equal("Noises Below: stage asked", _game.StageText, "stage, from GetQuestState");
        Check.That(_game.ObjectiveText.Contains("Ask Maren about the noises in the cellar"), "objective: " + _game.ObjectiveText);
        Check.That(_game.CanType, "the player may type");
    }

    async Task TypedLine()
    {
        lock (_lock)
            _shown = new HashSet<string>();
        var reply = await Say("How much is a room for the night?");
        lock (_lock)
        {
            Check.That(_shown.Contains(reply.Trim()), "her line on screen as it streamed, before the turn ended");
            _shown = null;
        }
        Console.WriteLine("  Maren: " + reply);
    }

    async Task RoomKeyAccepted()
    {
        await Say(ChatGame.RoomRequest, "give_item", "room_key");
        foreach (var part in new[] { "\"item\": \"room_key\"", "accepted by the game", "status OK" })
            Check.That(_game.ToolCallText.Contains(part), $"'{part}' in {_game.ToolCallText}");
        Check.That(_game.LogText.Contains($"({Speaker} hands you: room key; you pay 5 copper)"), "the log: " + _game.LogText);
        Check.Equal("Purse: 1 copper   Inventory: room key", _game.InventoryText, "inventory");
        Check.Equal("Noises Below: stage trusted", _game.StageText, "stage");
        Check.That(_game.ObjectiveText.Contains("Maren has given you a room"), "objective: " + _game.ObjectiveText);
        Check.That(_game.Options.Contains(Stew), "the option as a button: " + string.Join(" | ", _game.Options));
        Console.WriteLine("  " + _game.ToolCallText);
    }

    async Task OptionFinishesTheQuest()
    {
        await Say(_game.Options.Single(o => o == Stew));
        Check.Equal("Noises Below: stage done", _game.StageText, "stage");
        Check.That(_game.LogText.Contains("noises_below: trusted -> done"), "the quest change in the log");
        Check.Equal(0, _game.Options.Count, "no options once the quest is done");
    }

    async Task StewRefused()
    {
        await Say(ChatGame.StewRequest, "give_item", "eel_stew"); // 2 copper, 1 in the purse
        foreach (var part in new[] { "\"item\": \"eel_stew\"", "refused by the game", "cannot afford", "status FAILED" })
            Check.That(_game.ToolCallText.Contains(part), $"'{part}' in {_game.ToolCallText}");
        Check.Equal("Purse: 1 copper   Inventory: room key", _game.InventoryText, "inventory");
        Console.WriteLine("  " + _game.ToolCallText);
    }

    async Task HoldAndPlan()
    {
        _game.HoldUntilChecked = true;
        Check.That(_game.ModeHelp.Contains("REPLY_MODE_HOLD"), "hold explained: " + _game.ModeHelp);
        lock (_lock)
        {
            _shown = new HashSet<string>();
            _held = false;
        }
        var reply = await Say("Tell me about the bell tower.");
        lock (_lock)
        {
            Check.That(_held, "the status said the line is held until checked");
            Check.That(_shown.SetEquals(new[] { reply.Trim() }), "only the whole line shown: " + string.Join(" | ", _shown));
            _shown = null;
        }
        _game.HoldUntilChecked = false;
        foreach (var part in new[] { "act: ", "why: ", "check: CHECK_ACTION_", "timings: " })
            Check.That(_game.DebugText.Contains(part), $"'{part}' in the plan panel: {_game.DebugText}");
    }

    async Task BusyServer()
    {
        // Another player's turn waits for its game's tool result: the server's only turn place.
        using var other = Client(_server, _token);
        var holder = "unity-sample-holder-" + Guid.NewGuid().ToString("N").Substring(0, 6);
        using var otherAdmin = _adminToken == null ? null : Client(_server, _adminToken);
        await (otherAdmin ?? other).SetQuestStateAsync(holder, new QuestState { Stages = { [ChatGame.Quest] = "asked" } });
        var session = await other.OpenSessionAsync("maren", "", holder);
        var turn = other.SayAsync(session.SessionId, ChatGame.RoomRequest, "give_item").GetAsyncEnumerator();
        try
        {
            while (await turn.MoveNextAsync() && turn.Current.EventCase != SayResponse.EventOneofCase.ToolCall)
            {
            }
            await _game.SayAsync("Good evening!");
            Check.That(_game.ProblemText.Contains("at capacity") && _game.ProblemText.Contains("Its retry hint: "),
                "busy, with the server's hint: " + _game.ProblemText + "\n" + _game.LogText);
            Check.That(_game.ProblemWithCountdown(DateTime.UtcNow).Contains("Trying again in"), "the countdown");
            Check.That(_game.PendingRetry != null, "an automatic retry");
            Check.That(_game.LogText.EndsWith("You: Good evening!\n  (error ResourceExhausted: see below)"), "the log: " + _game.LogText);
            Console.WriteLine("  " + _game.ProblemText.Split('\n')[0]);
        }
        finally
        {
            await turn.DisposeAsync(); // the other player leaves: the place frees
        }
        for (var waits = 0; waits <= ChatGame.AutoRetries && _game.PendingRetry is Task retry; waits++)
            await retry;
        if (Reply("Good evening!") == null) // the automatic retries ran out first
            await _game.RetryAsync();
        Check.That(Reply("Good evening!") != null, "the line went through after the hint: " + _game.ProblemText);
    }

    async Task ServerGone()
    {
        _gate.Close();
        await _game.SayAsync("Are you still there?");
        Check.That(_game.ProblemText.StartsWith($"No server answers at {_url}"), "what to do: " + _game.ProblemText);
        var log = _game.LogText.Split('\n');
        Check.Equal("You: Are you still there?\n  (error Unavailable: see below)", string.Join("\n", log.Skip(log.Length - 2)),
            "the log's end, no speaker line");
        Check.That(_game.CanType && _game.CanRetry, "the player may type, or press Retry");
        _gate.Open();
        await _game.RetryAsync();
        Check.That(Reply("Are you still there?") != null, "the line said again: " + _game.ProblemText);
    }

    async Task WrongTokens()
    {
        if (_token == null)
        {
            Console.WriteLine("  skipped: the server has no tokens");
            return;
        }
        using var unknown = Client(_url, "not-a-token-the-server-knows");
        using var stranger = Game(unknown, unknown);
        Check.That(!await stranger.StartAsync(), "not ready with an unknown token");
        Check.That(stranger.ProblemText.StartsWith("The server did not accept the access token"), stranger.ProblemText);
        using var player = Client(_url, _token);
        using var noAdmin = Game(player, player);
        Check.That(!await noAdmin.StartAsync(), "the quest not started with a client token");
        Check.That(noAdmin.ProblemText.StartsWith("This token may not do that. Starting the quest needs an admin token"),
            noAdmin.ProblemText);
        Check.That(noAdmin.CanRetry, "a Retry button");
    }

    Task NothingOddShown()
    {
        lock (_lock)
        {
            Check.That(_emptySpeaker.Count == 0, "no speaker line without words, but: " + _emptySpeaker.FirstOrDefault());
            Check.That(_late.Count == 0, "the log along with the inventory, but: " + _late.FirstOrDefault());
        }
        return Task.CompletedTask;
    }
}

/// <summary>
/// A port that forwards TCP to a target port while open and refuses connections while
/// closed: to the client, a server that is there, then gone, then back, without
/// restarting it. TLS passes through untouched.
/// </summary>
sealed class PortGate : IDisposable
{
    readonly int _target;
    readonly List<TcpClient> _open = new List<TcpClient>();
    TcpListener? _listener;

    public PortGate(int target)
    {
        _target = target;
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        Port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
    }

    public int Port { get; }

    public void Open()
    {
        var listener = _listener = new TcpListener(IPAddress.Loopback, Port);
        listener.Start();
        _ = AcceptAsync(listener);
    }

    /// <summary>Stops listening and cuts every forwarded connection.</summary>
    public void Close()
    {
        _listener?.Stop();
        _listener = null;
        lock (_open)
        {
            foreach (var connection in _open)
                connection.Close();
            _open.Clear();
        }
    }

    public void Dispose() => Close();

    async Task AcceptAsync(TcpListener listener)
    {
        while (true)
        {
            TcpClient client;
            try
            {
                client = await listener.AcceptTcpClientAsync();
            }
            catch (Exception e) when (e is SocketException || e is ObjectDisposedException || e is InvalidOperationException)
            {
                return; // closed
            }
            _ = ForwardAsync(client);
        }
    }

    async Task ForwardAsync(TcpClient client)
    {
        var server = new TcpClient();
        lock (_open)
        {
            _open.Add(client);
            _open.Add(server);
        }
        try
        {
            await server.ConnectAsync(IPAddress.Loopback, _target);
            var (a, b) = (client.GetStream(), server.GetStream());
            await Task.WhenAny(a.CopyToAsync(b), b.CopyToAsync(a));
        }
        catch (Exception e) when (e is SocketException || e is ObjectDisposedException || e is System.IO.IOException
                                  || e is InvalidOperationException)
        {
        }
        finally
        {
            client.Close();
            server.Close();
        }
    }
}
