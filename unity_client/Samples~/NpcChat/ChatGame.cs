// Plain C# (no UnityEngine): CI compiles it against the package and plays it on .NET
// against a live server (scripts/clients/csharp/e2e/SamplePlay.cs); NpcChatSample.cs
// only draws what it holds and forwards clicks.
//
// The NPC Chat sample's game: one NPC (Maren, of the server's example world) and the
// whole flow a game needs (README, "The sample, step by step").
// - The HUD shows the quest's stage and objective: read with GetQuestState at start, then
//   moved by every turn's quest_changes.
// - Her line streams in, or (HoldUntilChecked) comes whole once the lore check passed.
// - When she acts (a tool call), the game decides: ChatRules hands the item over only if
//   the player asked for it and can pay, and otherwise sends the reason back. The call,
//   the decision and the server's final status show on the Tool call line.
// - The quest's player options are buttons; the turn's plan, for writers, is in the debug panel.
// - A failed call shows what to do about it, with Retry; a busy server is retried after
//   its own hint.
// No ConfigureAwait(false): in Unity every continuation, and so every Changed, runs on the
// main thread (UnitySynchronizationContext).
#nullable enable
using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Npc.V1;
using NpcRuntime.Client;

namespace NpcRuntime.Samples
{
    public sealed class ChatGame : IDisposable
    {
        public const string Quest = "noises_below"; // the quest the sample starts
        public const string RoomRequest = "Can I have a room key for the night?";
        public const string StewRequest = "Can I have a bowl of eel stew?";
        public const int AutoRetries = 3; // a busy server is retried this often by itself, then by the button

        readonly NpcClient _client;
        readonly NpcClient _admin; // starts the quest: an admin token (a game's backend does this)
        readonly ChatSettings _settings;
        readonly CancellationTokenSource _lifetime = new CancellationTokenSource();
        readonly List<string> _history = new List<string>(); // finished lines only
        readonly Dictionary<string, string[]> _calls = new Dictionary<string, string[]>(); // this turn's: id -> [what, decision, status]
        readonly Dictionary<string, GiveItem> _ran = new Dictionary<string, GiveItem>(); // this turn's calls the game ran
        readonly Dictionary<string, string> _stages = new Dictionary<string, string>();
        string _current = ""; // the line being streamed (no speaker until it has text)
        bool _questStarted;
        (string Text, string ToolChoice, string Item) _lastLine;
        Func<Task>? _retry; // what Retry does
        CancellationTokenSource? _autoRetry;
        int _autoRetries;
        bool _hold;

        /// <param name="admin">The client that starts the quest (SetQuestState needs an admin token); null: <paramref name="client"/>.</param>
        public ChatGame(NpcClient client, ChatSettings settings, NpcClient? admin = null)
        {
            _client = client;
            _admin = admin ?? client;
            _settings = settings;
            if (settings.PlayerId.Length == 0)
                settings.PlayerId = "demo-" + DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            InventoryText = InventoryLine();
        }

        /// <summary>Something on screen changed: redraw.</summary>
        public event Action? Changed;

        /// <summary>The game's purse, inventory and tool-call decisions.</summary>
        public ChatRules Rules { get; } = new ChatRules();

        public string SessionId { get; private set; } = "";
        public string NpcName { get; private set; } = "";
        public string Title { get; private set; } = "";
        public string StageText { get; private set; } = "";
        public string ObjectiveText { get; private set; } = "";
        public string StatusText { get; private set; } = "";
        public string ToolCallText { get; private set; } = "Tool call: none this turn";
        public string InventoryText { get; private set; }
        public string ModeHelp => _hold ? ChatText.HoldHelp : ChatText.StreamHelp;

        /// <summary>The writers' debug panel: the last turn's plan, check and timings.</summary>
        public string DebugText { get; private set; } = "No turn yet.";

        /// <summary>What went wrong and what to do; "" when all is well (hide the panel).</summary>
        public string ProblemText { get; private set; } = "";

        /// <summary>Whether Retry does something now.</summary>
        public bool CanRetry => _retry != null;

        /// <summary>When the busy server is tried again by itself; null when no retry is pending.</summary>
        public DateTime? RetryAt { get; private set; }

        /// <summary>The automatic retry in flight (awaitable); null when none.</summary>
        public Task? PendingRetry { get; private set; }

        /// <summary>The player may type and press buttons.</summary>
        public bool CanType { get; private set; }

        public bool IsSpeaking { get; private set; }

        /// <summary>What the player may say now to move the quest on (buttons).</summary>
        public IReadOnlyList<string> Options { get; private set; } = Array.Empty<string>();

        /// <summary>The player's quest stages (quest id -> stage id), as the server last said.</summary>
        public IReadOnlyDictionary<string, string> Stages => _stages;

        /// <summary>The line being streamed, "" when none (never a speaker without words).</summary>
        public string CurrentLine => _current;

        /// <summary>The conversation so far, then the line being streamed, if it has words.</summary>
        public string LogText => string.Join("\n", _history) + (_current.Length > 0 ? $"\n{Speaker}: {_current}" : "");

        /// <summary>Hold until checked (ReplyMode.Hold) instead of streaming; takes effect at the next line.</summary>
        public bool HoldUntilChecked
        {
            get => _hold;
            set
            {
                _hold = value;
                Raise();
            }
        }

        string Speaker => NpcName.Length > 0 ? NpcName : _settings.NpcId;

        /// <summary>The problem with the countdown of the automatic retry after its first line.</summary>
        public string ProblemWithCountdown(DateTime now)
        {
            if (RetryAt == null || ProblemText.Length == 0)
                return ProblemText;
            var parts = ProblemText.Split(new[] { '\n' }, 2);
            var left = Math.Max(0, (RetryAt.Value - now).TotalSeconds);
            return parts[0] + $" Trying again in {left:0.0} s." + (parts.Length > 1 ? "\n" + parts[1] : "");
        }

        /// <summary>
        /// Starts the quest for a new player (once), as a game would when the player takes it
        /// on, reads the player's quest state, then opens the session. True when ready to talk;
        /// false: the problem and Retry are on screen.
        /// </summary>
        public async Task<bool> StartAsync()
        {
            HideProblem();
            SetBusy(true);
            Title = $"Connecting to {_settings.ServerUrl} ...";
            Raise();
            try
            {
                if (!_questStarted)
                {
                    await _admin.SetQuestStateAsync(_settings.PlayerId, new QuestState { Stages = { [Quest] = "asked" } },
                        _lifetime.Token);
                    _questStarted = true;
                }
                var state = await _client.GetQuestStateAsync(_settings.PlayerId, _lifetime.Token);
                _stages.Clear();
                foreach (var stage in state.Stages)
                    _stages[stage.Key] = stage.Value;
                ShowQuest();
                if (SessionId.Length == 0)
                    await OpenAsync();
            }
            catch (Exception e) when (!(e is OperationCanceledException))
            {
                Failed(StartAsync, false, e);
                return false;
            }
            _autoRetries = 0;
            SetBusy(false);
            Raise();
            return true;
        }

        /// <summary>
        /// Says <paramref name="text"/> to the NPC; returns when the reply is over.
        /// <paramref name="toolChoice"/>: "" lets her decide whether to act, a tool id makes her
        /// call it (the player pressed a button); <paramref name="item"/>: the item that button asks for.
        /// </summary>
        public async Task SayAsync(string text, string toolChoice = "", string item = "")
        {
            if (text.Trim().Length == 0 || IsSpeaking)
                return;
            HideProblem();
            _lastLine = (text, toolChoice, item);
            Rules.BeginTurn(text, item);
            SetBusy(true);
            IsSpeaking = true;
            Options = Array.Empty<string>();
            _calls.Clear();
            _ran.Clear();
            ToolCallText = "Tool call: none this turn";
            _history.Add("You: " + text);
            _current = "";
            StatusText = $"{Speaker} is answering..." + (_hold ? " (held until the line has passed the lore check)" : "");
            Raise();
            LineDone? done = null;
            Exception? error = null;
            try
            {
                if (SessionId.Length == 0)
                    await OpenAsync();
                var request = new SayRequest
                {
                    SessionId = SessionId, Text = text, ToolChoice = toolChoice,
                    Mode = _hold ? ReplyMode.Hold : ReplyMode.Stream,
                };
                await foreach (var e in _client.SayAsync(request, _lifetime.Token))
                    done = await OnEventAsync(e) ?? done;
            }
            catch (OperationCanceledException) when (_lifetime.IsCancellationRequested)
            {
                return; // the game is closing
            }
            catch (Exception e)
            {
                error = e;
            }
            finally
            {
                IsSpeaking = false;
            }
            if (_current.Length > 0) // never a speaker line without words
                _history.Add($"{Speaker}: {_current}" + (done == null ? " [cut off]" : ""));
            _current = "";
            StatusText = "";
            if (done == null)
            {
                if (error is GrpcStatusException { Code: StatusCode.NotFound })
                    SessionId = ""; // Retry opens a new conversation
                Failed(RetryLineAsync, true, error ?? new GrpcStatusException(StatusCode.Internal, "the reply ended without its line"));
                return;
            }
            AfterLine(done);
            _autoRetries = 0;
            SetBusy(false);
            Raise();
        }

        /// <summary>Says the last line again (after it failed).</summary>
        public Task RetryLineAsync() =>
            _lastLine.Text == null ? Task.CompletedTask : SayAsync(_lastLine.Text, _lastLine.ToolChoice, _lastLine.Item);

        /// <summary>The Retry button: does again what failed (starting, or the last line).</summary>
        public Task RetryAsync()
        {
            var again = _retry;
            CancelAutoRetry();
            return again == null ? Task.CompletedTask : again();
        }

        /// <summary>Cancels the reply in flight and any pending retry, and closes the session (quietly).</summary>
        public void Dispose()
        {
            CancelAutoRetry();
            _lifetime.Cancel();
            if (SessionId.Length > 0)
                _ = _client.CloseSessionAsync(SessionId).ContinueWith(t => _ = t.Exception, TaskScheduler.Default);
        }

        async Task OpenAsync()
        {
            var opened = await _client.OpenSessionAsync(_settings.NpcId, _settings.PlayerName, _settings.PlayerId,
                _settings.AffinityKey, _lifetime.Token);
            SessionId = opened.SessionId;
            NpcName = opened.NpcName;
            Title = NpcName;
            Options = opened.Options.ToArray();
        }

        // One event of the reply; its LineDone, if it is one. Events a newer server adds are
        // skipped, as the protocol asks.
        async Task<LineDone?> OnEventAsync(SayResponse e)
        {
            switch (e.EventCase)
            {
                case SayResponse.EventOneofCase.Token:
                    _current += e.Token.Text;
                    StatusText = "";
                    Raise();
                    return null;
                case SayResponse.EventOneofCase.Replaced: // the checker changed the line: show the checked text
                    _current = e.Replaced.Text;
                    _history.Add("  (the lore checker trimmed the streamed line)");
                    Raise();
                    return null;
                case SayResponse.EventOneofCase.ToolCall:
                    await OnToolCallAsync(e.ToolCall);
                    return null;
                case SayResponse.EventOneofCase.LineDone:
                    _current = e.LineDone.Text;
                    return e.LineDone;
                default:
                    return null;
            }
        }

        // The NPC acts. Only ENGINE calls are ours to run; SERVER ones already ran. The game
        // decides (Rules.Refusal) and answers; the reply goes on once it has.
        async Task OnToolCallAsync(ToolCall call)
        {
            var what = $"{call.Tool}({call.ArgumentsJson})";
            if (call.Executor != ToolExecutor.Engine)
            {
                ShowCall(call.CallId, what, "run by the server", "");
                Raise();
                return;
            }
            var arguments = GiveItem.Parse(call.ArgumentsJson);
            var item = ChatRules.NameOf(arguments.Item);
            var why = Rules.Refusal(call.Tool, arguments);
            var result = "";
            if (why.Length == 0)
            {
                var cost = ChatRules.Price(arguments);
                result = Rules.Run(arguments);
                _ran[call.CallId] = arguments;
                _history.Add($"  ({Speaker} hands you: {item}; you pay {cost} copper)");
                ShowCall(call.CallId, what, "accepted by the game", "result sent");
            }
            else
            {
                _history.Add($"  (you refuse the {item}: {why})");
                ShowCall(call.CallId, what, "refused by the game: " + why, "reason sent");
            }
            InventoryText = InventoryLine(); // together with the log line above, in one redraw
            Raise();
            try
            {
                await _client.SubmitToolResultAsync(SessionId, call.CallId, result, why, _lifetime.Token);
            }
            catch (GrpcStatusException e)
            {
                ShowCall(call.CallId, what, "", $"the server did not take the game's answer ({e.Code})");
                Raise();
            }
        }

        // The finished line: each call's final status (and undoing what the server did not
        // count), the quest's moves, the options, the plan.
        void AfterLine(LineDone done)
        {
            foreach (var outcome in done.ToolCalls)
            {
                var status = ChatText.ToolStatus(outcome.Status);
                ShowCall(outcome.CallId, $"{outcome.Tool}({outcome.ArgumentsJson})", "", status);
                if (outcome.Status != ToolCallStatus.Ok && _ran.TryGetValue(outcome.CallId, out var ran))
                {
                    Rules.Undo(ran); // the server went on without our answer
                    _history.Add($"  (the game takes back the {ChatRules.NameOf(ran.Item)}: {status})");
                    InventoryText = InventoryLine();
                }
            }
            if (done.QuestChanges.Count > 0)
            {
                foreach (var change in done.QuestChanges) // "quest: from -> to"; also "item: id", "revealed: fact"
                {
                    var arrow = change.IndexOf("->", StringComparison.Ordinal);
                    var colon = change.IndexOf(':');
                    if (arrow > 0 && colon > 0 && colon < arrow)
                        _stages[change.Substring(0, colon).Trim()] = change.Substring(arrow + 2).Trim();
                }
                _history.Add("  (quest_changes: " + string.Join("; ", done.QuestChanges) + ")");
                ShowQuest();
            }
            Options = done.Options.ToArray();
            DebugText = ChatText.PlanText(done);
        }

        // Shows what failed with what to do, and makes Retry do `again`; `canType`: the player
        // may say something else instead. A busy server is retried after its hint by itself.
        void Failed(Func<Task> again, bool canType, Exception error)
        {
            ProblemText = ChatText.DescribeProblem(error, _settings.ServerUrl);
            var code = error is GrpcStatusException s ? s.Code.ToString() : error.GetType().Name;
            _history.Add($"  (error {code}: see below)");
            _retry = again;
            if (SessionId.Length == 0)
                Title = _settings.NpcId + ": not connected";
            if (error is GrpcStatusException { Code: StatusCode.ResourceExhausted } busy && _autoRetries < AutoRetries)
                PendingRetry = AutoRetryAsync(busy.RetryAfter ?? TimeSpan.FromSeconds(1));
            SetBusy(!canType);
            Raise();
        }

        async Task AutoRetryAsync(TimeSpan wait)
        {
            var cancel = _autoRetry = new CancellationTokenSource();
            RetryAt = DateTime.UtcNow + wait;
            try
            {
                await Task.Delay(wait, cancel.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            RetryAt = null;
            _autoRetries++;
            await RetryAsync();
        }

        void CancelAutoRetry()
        {
            _autoRetry?.Cancel();
            _autoRetry = null;
            RetryAt = null;
            PendingRetry = null;
        }

        void HideProblem()
        {
            CancelAutoRetry();
            ProblemText = "";
            _retry = null;
        }

        void ShowQuest()
        {
            _stages.TryGetValue(Quest, out var stage);
            StageText = ChatText.StageLine(Quest, stage ?? "");
            ObjectiveText = ChatText.ObjectiveLine(Quest, stage ?? "");
        }

        // One tool call of this turn on the Tool call line: what, the decision, its status ("": as before).
        void ShowCall(string callId, string what, string decision, string status)
        {
            if (!_calls.TryGetValue(callId, out var shown))
                _calls[callId] = shown = new[] { what, "", "" };
            shown[1] = decision.Length > 0 ? decision : shown[1];
            shown[2] = status.Length > 0 ? status : shown[2];
            ToolCallText = "Tool call: " + string.Join("; ",
                _calls.Values.Select(c => string.Join(" -> ", c.Where(part => part.Length > 0))));
        }

        string InventoryLine()
        {
            var items = Rules.Inventory.Count > 0 ? string.Join(", ", Rules.Inventory.Select(ChatRules.NameOf)) : "(empty)";
            return $"Purse: {Rules.Purse} copper   Inventory: {items}";
        }

        void SetBusy(bool busy) => CanType = !busy;

        void Raise() => Changed?.Invoke();
    }
}
